"""Storms against concurrent changes on PostgreSQL (READ COMMITTED): a storm resolved, or a group split away, while an inbox batch runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.incident import IncidentStatus, NewIncident, Severity, Source
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.policy.noise import StormBy, StormPolicy
from bot.services.incidents.inbox_apply import DeliveryApplier
from bot.services.incidents.split import split_group
from db.store import SqlStore
from handlers.alertmanager_schema import parse_alertmanager
from tests.integration.test_storm_collapse import TRIAGE, detail_of, firing, group, storm_of_six
from tests.support.escalation import escalating_store, escalation_policy
from tests.support.inbox import enqueue
from tests.support.payloads.alertmanager import resolved
from tests.support.sql_store import migrated_store

pytestmark = pytest.mark.postgres
ALICE = Actor.parse("slack:U0ALICE001")


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[SqlStore]:
    async with migrated_store(postgres_url) as sql:
        yield sql


def storm_policy(policy: Policy) -> Policy:
    storm = StormPolicy(threshold=5, window=timedelta(minutes=2), by=StormBy.SERVICE)
    base = escalation_policy(policy)
    return replace(base, noise=replace(base.noise, storm=storm))


async def test_open_storm_returns_a_storm_resolved_meanwhile(
    pg: SqlStore, clock: FixedClock
) -> None:
    ids = {}
    async with pg.transaction() as uow:
        for svc in ("a", "b"):
            inc = await uow.incidents.create(
                NewIncident(
                    title=svc,
                    severity=Severity.P1,
                    source=Source.ALERTMANAGER,
                    service=svc,
                    scenario="x",
                    response_minutes=5,
                    created_at=clock.now(),
                    group_key=f"g-{svc}",
                )
            )
            await uow.incidents.save(replace(inc, storm_key=f"service={svc}"))
            ids[svc] = inc.id
    async with pg.transaction() as uow:
        a = await uow.incidents.open_storm("service=a")
        assert a is not None
        assert a.id == ids["a"]
        # A person resolves storm b meanwhile (another transaction, committed).
        async with pg.transaction() as other:
            b = await other.incidents.get(ids["b"], for_update=True)
            assert b is not None
            await other.incidents.save(
                b.moved_to(IncidentStatus.RESOLVED, by=ALICE, at=clock.now())
            )
        assert await uow.incidents.open_storm("service=b") is None


async def test_split_meanwhile_sends_resolution_to_the_storm(
    pg: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    paths = storm_policy(policy)
    published = escalating_store(
        pg,
        paths,
        clock,
        more=[
            SlackPublisher(policy=paths, clock=clock, triage_channel=TRIAGE),
            NotificationPublisher(
                paths, clock, public_url="https://x.example", triage_channel=TRIAGE
            ),
        ],
    )
    storm_id = await storm_of_six(published, paths, clock)
    clock.advance(30)
    await enqueue(published, clock, group(6, [resolved(firing(6), clock.now())]))
    applier = DeliveryApplier(paths, clock, parse_alertmanager)
    async with published.transaction() as uow:
        held = await uow.deliveries.take_pending(source=None, now=clock.now(), limit=10, wait=False)
        parsed, n = await applier.prepare(uow, held)
        # Meanwhile a person splits group 6 out of the storm (commits).
        split = await split_group(published, paths, storm_id, "6", actor=ALICE, at=clock.now())
        for p in held[:n]:
            await applier.apply(uow, p, parsed.get(p.id))
    new = await detail_of(published, split.split.id)
    storm = await detail_of(published, storm_id)
    # The resolution follows the alert to where the split moved it.
    assert new.incident.status is IncidentStatus.RESOLVED
    assert [e.kind for e in new.timeline][-2:] == ["alert.resolved", "incident.resolved"]
    assert "alert.resolved" not in [e.kind for e in storm.timeline][-2:]
