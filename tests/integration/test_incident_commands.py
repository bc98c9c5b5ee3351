"""The use cases behind /incident (declare, ack, resolve, severity, commander, note) on every
store backend, and the publishing store that hands each transaction's new entries on."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.incident import IncidentStatus, Severity, Source, TimelineEntry
from bot.domain.timeline import verify_chain
from bot.errors import BadRequest, NotFound
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.queries import show_incident
from bot.services.incidents.updates import (
    acknowledge,
    add_note,
    assign_commander,
    resolve,
    set_severity,
)
from bot.services.publishing import PublishingStore

ALICE = Actor.parse("slack:U0ALICE001")


async def test_declare_opens_a_p1_by_default_with_the_runbook_scenario(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await declare_incident(
        store, policy, title="Checkout is slow", actor=ALICE, at=clock.now(), service="lnn"
    )
    assert incident.severity is Severity.P1
    assert incident.source is Source.SLACK
    assert incident.group_key is None
    assert incident.response_minutes == policy.levels[Severity.P1].response_minutes
    assert incident.scenario in policy.scenarios
    detail = await show_incident(store, incident.id)
    assert [(e.kind, e.actor) for e in detail.timeline] == [("incident.opened", ALICE)]
    assert detail.timeline[0].body["rule"] == "declared"


async def test_a_p0_declaration_gets_the_p0_scenario(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await declare_incident(
        store, policy, title="All down", actor=ALICE, at=clock.now(), severity=Severity.P0
    )
    p0_scenarios = {r.scenario for r in policy.rules if r.severity is Severity.P0}
    assert incident.scenario in p0_scenarios


async def test_lifecycle_lands_on_the_timeline_with_each_actor(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await declare_incident(store, policy, title="x", actor=ALICE, at=clock.now())
    clock.advance(180)
    acked = await acknowledge(
        store, incident.id, actor=Actor.parse("slack:U0BOB00001"), at=clock.now()
    )
    assert acked.status is IncidentStatus.ACKNOWLEDGED
    assert acked.acknowledged_at == clock.now()
    await set_severity(store, incident.id, Severity.P0, actor=ALICE, at=clock.now())
    await assign_commander(store, incident.id, "U0CAROL001", actor=ALICE, at=clock.now())
    await add_note(
        store, incident.id, "rolled back 1.4", actor=Actor.parse("slack:U0CAROL001"), at=clock.now()
    )
    clock.advance(600)
    done = await resolve(store, incident.id, actor=ALICE, at=clock.now(), reason="fixed")
    assert done.status is IncidentStatus.RESOLVED
    assert done.severity is Severity.P0

    detail = await show_incident(store, incident.id)
    verify_chain(detail.timeline)
    assert [(e.kind, e.actor) for e in detail.timeline] == [
        ("incident.opened", ALICE),
        ("incident.acknowledged", Actor.parse("slack:U0BOB00001")),
        ("severity.changed", ALICE),
        ("commander.assigned", ALICE),
        ("note", Actor.parse("slack:U0CAROL001")),
        ("incident.resolved", ALICE),
    ]
    assert detail.timeline[2].body == {"from": "P1", "to": "P0", "rule": "manual"}
    assert detail.timeline[3].body == {"user": "U0CAROL001"}
    assert detail.timeline[-1].body == {"reason": "fixed"}


async def test_repeated_or_impossible_changes_are_refused_and_change_nothing(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await declare_incident(store, policy, title="x", actor=ALICE, at=clock.now())
    await acknowledge(store, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="already acknowledged"):
        await acknowledge(store, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="already is P1"):
        await set_severity(store, incident.id, Severity.P1, actor=ALICE, at=clock.now())
    await resolve(store, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="already resolved"):
        await resolve(store, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="already resolved"):
        await acknowledge(store, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(NotFound, match="#999"):
        await add_note(store, 999, "x", actor=ALICE, at=clock.now())
    detail = await show_incident(store, incident.id)
    assert len(detail.timeline) == 3


class _Collecting:
    """A publisher that remembers what it was handed (a fake of the port, not of our code)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[str]]] = []

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        assert await uow.incidents.get(incident_id) is not None  # same transaction sees it
        self.calls.append((incident_id, [e.kind for e in entries]))


async def test_publishing_store_hands_each_transactions_entries_on_once(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    publisher = _Collecting()
    publishing = PublishingStore(store, publisher)
    incident = await declare_incident(publishing, policy, title="x", actor=ALICE, at=clock.now())
    await acknowledge(publishing, incident.id, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest):
        await acknowledge(publishing, incident.id, actor=ALICE, at=clock.now())
    assert publisher.calls == [
        (incident.id, ["incident.opened"]),
        (incident.id, ["incident.acknowledged"]),
    ]
