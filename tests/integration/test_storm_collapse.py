"""Storm collapse at alert intake (the policy's ``noise.storm``) on every store (memory,
SQLite, PostgreSQL), through the real inbox processor, the escalation reactor and the app's
Slack and notification publishers, with time on a ``FixedClock``: a storm of 300 groups for
one service makes one incident, one channel and one page, records every group, and resolves
when they all do; a storm forming across batches promotes the first incident and merges the
others (their unsent calls cancelled); another service's incident does not join; an
acknowledged incident is never merged; and ``/incident split`` and ``merge`` move alerts and
land on both timelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import EventKind
from bot.domain.incident import AlertStatus, IncidentFilter, IncidentStatus, Severity
from bot.domain.outbox import PAGERDUTY, SLACK, OutboxMessage, OutboxStatus
from bot.domain.timeline import verify_chain
from bot.errors import BadRequest, NotFound
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.policy.noise import StormBy, StormPolicy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.merge import merge_incident
from bot.services.incidents.queries import IncidentDetail, show_incident
from bot.services.incidents.split import split_group
from bot.services.incidents.updates import acknowledge, resolve
from bot.services.publishing import PublishingStore
from tests.support.escalation import escalating_store, escalation_policy
from tests.support.inbox import deliver, enqueue, processor
from tests.support.payloads.alertmanager import alert, resolved, webhook

REACH = Reach(paging=True, email=True)
TRIAGE = "C0TRIAGE"
SERVICE = "lnn-service"
ALICE = Actor.parse("slack:U0ALICE001")


@pytest.fixture
def paths(policy: Policy) -> Policy:
    storm = StormPolicy(threshold=5, window=timedelta(minutes=2), by=StormBy.SERVICE)
    base = escalation_policy(policy)
    return replace(base, noise=replace(base.noise, storm=storm))


@pytest.fixture
def published(store: Store, paths: Policy, clock: FixedClock) -> PublishingStore:
    return escalating_store(
        store,
        paths,
        clock,
        more=[
            SlackPublisher(policy=paths, clock=clock, triage_channel=TRIAGE),
            NotificationPublisher(
                paths, clock, public_url="https://firebreak.example", triage_channel=TRIAGE
            ),
        ],
    )


def group_key(i: int) -> str:
    return f'{{}}:{{group="g{i:03d}"}}'


def firing(i: int, name: str = "LNNHighLatency", service: str = SERVICE, extra: str = "") -> Any:
    """Group ``i``'s alert; ``extra`` makes another alert of the same group."""
    if extra:
        return alert(name, service=service, instance=f"i{i}", extra=extra)
    return alert(name, service=service, instance=f"i{i}")


def group(i: int, alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return webhook(group_key(i), list(alerts))


async def incidents(store: Store) -> list[int]:
    async with store.transaction() as uow:
        return sorted(i.id for i in await uow.incidents.list(IncidentFilter(limit=1000)))


async def outbox(store: Store) -> Sequence[OutboxMessage]:
    async with store.transaction() as uow:
        return await uow.outbox.list(limit=100_000)


def live(messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    return [m for m in messages if m.status is not OutboxStatus.CANCELLED]


def channels_created(messages: Sequence[OutboxMessage]) -> list[int | None]:
    return [
        m.call.incident_id
        for m in live(messages)
        if m.call.target == SLACK and m.call.method == "conversations.create"
    ]


def pages(messages: Sequence[OutboxMessage]) -> list[int | None]:
    return [m.call.incident_id for m in live(messages) if m.call.target == PAGERDUTY]


async def detail_of(store: Store, incident_id: int) -> IncidentDetail:
    detail = await show_incident(store, incident_id)
    verify_chain(detail.timeline)
    return detail


def kinds(detail: IncidentDetail) -> list[str]:
    return [
        e.kind for e in detail.timeline if not e.kind.startswith(("escalation.", "notification."))
    ]


async def test_a_storm_of_300_groups_makes_one_incident_one_channel_one_page(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    payloads = []
    for i in range(1, 301):
        # One P0 among P1s: the storm takes the highest severity of its alerts.
        name = "LNNServiceDown" if i == 150 else "LNNHighLatency"
        payloads.append(group(i, [firing(i, name)]))
    # 300 groups within a minute, each delivery its own inbox row, processed in batches.
    for payload in payloads:
        await enqueue(published, clock, payload)
        clock.advance(0.15)
    done = await processor(published, paths, clock).drain()
    assert len(done) == 300
    await fire_due(published, paths, clock, REACH)

    found = await incidents(published)
    assert len(found) == 5  # the five that opened before the storm formed
    storm = await detail_of(published, found[0])
    assert storm.incident.storm_key == f"service={SERVICE}"
    assert storm.incident.title == f"Alert storm on service={SERVICE}"
    assert storm.incident.severity is Severity.P0
    assert storm.incident.status is IncidentStatus.TRIGGERED
    # Every group's alert is recorded on the storm, with its group key.
    assert len(storm.alerts) == 300
    assert {a.group_key for a in storm.alerts} == {group_key(i) for i in range(1, 301)}
    for merged_id in found[1:]:
        merged = await detail_of(published, merged_id)
        assert merged.incident.merged_into == storm.incident.id
        assert merged.incident.status is IncidentStatus.RESOLVED
        assert merged.alerts == []
        assert EventKind.INCIDENT_MERGED in kinds(merged)
    assert kinds(storm).count(EventKind.STORM_FORMED) == 1
    assert kinds(storm).count(EventKind.STORM_JOINED) == 295
    assert kinds(storm).count(EventKind.INCIDENT_MERGED) == 4
    messages = await outbox(published)
    assert channels_created(messages) == [storm.incident.id]
    assert pages(messages) == [storm.incident.id]

    # All 300 resolve: the storm resolves.
    clock.advance(300)
    for i, payload in enumerate(payloads, 1):
        await enqueue(published, clock, group(i, [resolved(payload["alerts"][0], clock.now())]))
    await processor(published, paths, clock).drain()
    after = await detail_of(published, storm.incident.id)
    assert after.incident.status is IncidentStatus.RESOLVED
    assert all(a.status is AlertStatus.RESOLVED for a in after.alerts)
    assert kinds(after)[-1] == EventKind.INCIDENT_RESOLVED
    assert await incidents(published) == found


async def test_a_storm_across_batches_promotes_the_first_and_merges_the_others(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    opened = []
    for i in range(1, 6):
        result = await deliver(published, paths, clock, group(i, [firing(i)]))
        opened += [incident.id for incident in result.opened]
        clock.advance(10)
    assert len(opened) == 5
    assert len(channels_created(await outbox(published))) == 5

    sixth = await deliver(published, paths, clock, group(6, [firing(6)]))

    assert sixth.opened == ()
    assert sixth.incident_ids == (opened[0],)
    storm = await detail_of(published, opened[0])
    assert storm.incident.storm_key == f"service={SERVICE}"
    assert len(storm.alerts) == 6
    messages = await outbox(published)
    # The merged incidents' unsent calls (their channels among them) were cancelled.
    assert channels_created(messages) == [opened[0]]
    cancelled = [m for m in messages if m.status is OutboxStatus.CANCELLED]
    assert {m.call.incident_id for m in cancelled} == set(opened[1:])
    assert all(m.last_error == f"merged into #{opened[0]}" for m in cancelled)
    for merged_id in opened[1:]:
        merged = await detail_of(published, merged_id)
        assert merged.incident.merged_into == opened[0]
        entry = next(e for e in merged.timeline if e.kind == EventKind.INCIDENT_MERGED)
        assert entry.body == {
            "source": merged_id,
            "target": opened[0],
            "alerts": 1,
            "reason": "storm",
        }

    # A merged group's later deliveries find the storm: a new alert joins, resolutions count.
    grown = [firing(3), firing(3, extra="x")]
    more = await deliver(published, paths, clock, group(3, grown))
    assert more.incident_ids == (opened[0],)
    assert more.opened == ()
    clock.advance(60)
    for i in range(1, 7):
        alerts = [firing(i)] if i != 3 else grown
        await deliver(published, paths, clock, group(i, [resolved(a, clock.now()) for a in alerts]))
    done = await detail_of(published, opened[0])
    assert len(done.alerts) == 7
    assert done.incident.status is IncidentStatus.RESOLVED
    assert await incidents(published) == opened


async def test_another_service_does_not_join_the_storm(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    for i in range(1, 7):
        await deliver(published, paths, clock, group(i, [firing(i)]))
    other = await deliver(published, paths, clock, group(7, [firing(7, service="checkout")]))
    (own,) = other.opened
    assert own.storm_key is None
    assert own.service == "checkout"
    assert len(await incidents(published)) == 6


async def test_acknowledged_incidents_are_never_merged(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    opened = []
    for i in range(1, 6):
        opened += [
            x.id for x in (await deliver(published, paths, clock, group(i, [firing(i)]))).opened
        ]
    await acknowledge(published, opened[0], actor=ALICE, at=clock.now())
    await acknowledge(published, opened[1], actor=ALICE, at=clock.now())

    sixth = await deliver(published, paths, clock, group(6, [firing(6)]))

    assert sixth.incident_ids == (opened[2],)
    for kept in opened[:2]:
        detail = await detail_of(published, kept)
        assert detail.incident.status is IncidentStatus.ACKNOWLEDGED
        assert detail.incident.merged_into is None
        assert len(detail.alerts) == 1
    storm = await detail_of(published, opened[2])
    assert storm.incident.storm_key is not None
    assert len(storm.alerts) == 4


async def storm_of_six(published: PublishingStore, paths: Policy, clock: FixedClock) -> int:
    for i in range(1, 7):
        await deliver(published, paths, clock, group(i, [firing(i)]))
    return (await incidents(published))[0]


async def test_split_moves_one_group_to_an_incident_of_its_own(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    storm_id = await storm_of_six(published, paths, clock)

    result = await split_group(published, paths, storm_id, "4", actor=ALICE, at=clock.now())

    assert result.group_key == group_key(4)
    assert result.alerts == 1
    new = await detail_of(published, result.split.id)
    assert new.incident.group_key == group_key(4)
    assert [a.group_key for a in new.alerts] == [group_key(4)]
    assert kinds(new)[0] == EventKind.INCIDENT_OPENED
    assert EventKind.INCIDENT_SPLIT in kinds(new)
    storm = await detail_of(published, storm_id)
    assert len(storm.alerts) == 5
    entry = next(e for e in storm.timeline if e.kind == EventKind.INCIDENT_SPLIT)
    assert entry.actor == ALICE
    assert entry.body["target"] == new.incident.id
    assert new.incident.id in channels_created(await outbox(published))
    # Later deliveries of the split group go to its own incident.
    again = await deliver(published, paths, clock, group(4, [firing(4), firing(4, extra="y")]))
    assert again.incident_ids == (new.incident.id,)

    with pytest.raises(BadRequest, match="no group"):
        await split_group(published, paths, storm_id, "g999", actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="opened for"):
        await split_group(published, paths, storm_id, "1", actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="only group"):
        await split_group(
            published, paths, new.incident.id, group_key(4), actor=ALICE, at=clock.now()
        )


async def test_merge_moves_alerts_and_refuses_what_it_cannot_merge(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    a = (await deliver(published, paths, clock, group(1, [firing(1)]))).opened[0].id
    b = (
        (await deliver(published, paths, clock, group(2, [firing(2, "LNNServiceDown")])))
        .opened[0]
        .id
    )

    target = await merge_incident(published, a, b, actor=ALICE, at=clock.now())

    assert target.id == b
    merged = await detail_of(published, a)
    assert merged.incident.merged_into == b
    assert merged.incident.status is IncidentStatus.RESOLVED
    into = await detail_of(published, b)
    assert len(into.alerts) == 2
    for detail in (merged, into):
        entry = next(e for e in detail.timeline if e.kind == EventKind.INCIDENT_MERGED)
        assert entry.actor == ALICE
        assert entry.body["reason"] == "command"
    # A's group re-sent with a new alert goes where its alerts are now.
    again = await deliver(published, paths, clock, group(1, [firing(1), firing(1, extra="z")]))
    assert again.incident_ids == (b,)

    with pytest.raises(BadRequest, match="itself"):
        await merge_incident(published, b, b, actor=ALICE, at=clock.now())
    with pytest.raises(NotFound):
        await merge_incident(published, b, 999, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="merged into"):
        await merge_incident(published, b, a, actor=ALICE, at=clock.now())
    c = (await deliver(published, paths, clock, group(3, [firing(3)]))).opened[0].id
    await resolve(published, c, actor=ALICE, at=clock.now())
    with pytest.raises(BadRequest, match="resolved"):
        await merge_incident(published, b, c, actor=ALICE, at=clock.now())


async def test_a_merged_group_firing_again_reopens_the_storm_not_the_merged_incident(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    storm_id = await storm_of_six(published, paths, clock)
    merged_id = (await incidents(published))[1]
    clock.advance(60)
    for i in range(1, 7):
        await deliver(published, paths, clock, group(i, [resolved(firing(i), clock.now())]))
    assert (await detail_of(published, storm_id)).incident.status is IncidentStatus.RESOLVED
    clock.advance(60)
    again = alert("LNNHighLatency", service="lnn-service", instance="i2", starts_at=clock.now())
    result = await deliver(published, paths, clock, group(2, [again]))
    merged = await detail_of(published, merged_id)
    storm = await detail_of(published, storm_id)
    assert merged.incident.status is IncidentStatus.RESOLVED
    assert result.incident_ids == (storm_id,)
    assert storm.incident.status is IncidentStatus.TRIGGERED
    assert storm.incident.flap_count == 1
    assert channels_created(await outbox(published)) == [storm_id]


async def test_a_group_whose_alerts_all_resolved_is_not_split_out(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    storm_id = await storm_of_six(published, paths, clock)
    clock.advance(30)
    await deliver(published, paths, clock, group(3, [resolved(firing(3), clock.now())]))
    with pytest.raises(BadRequest, match="has resolved"):
        await split_group(published, paths, storm_id, "3", actor=ALICE, at=clock.now())
    assert channels_created(await outbox(published)) == [storm_id]
