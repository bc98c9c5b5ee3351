"""Firing timers on the memory store: what is written when paging or email is not
configured, a timer whose incident was acknowledged behind the reactor's back, and a level
the policy no longer has."""

from __future__ import annotations

from dataclasses import replace

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import TimerStatus
from bot.domain.events import EventKind
from bot.domain.incident import IncidentStatus, Severity
from bot.policy.model import Policy
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.declare import declare_incident
from tests.fakes.memory.store import MemoryStore
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of

ALICE = Actor("slack", "U0ALICE")


async def test_unconfigured_ways_are_noted_once_per_incident_and_way(
    policy: Policy, clock: FixedClock
) -> None:
    paths = escalation_policy(policy)
    store = escalating_store(MemoryStore(), paths, clock)
    incident = await declare_incident(
        store, paths, title="down", actor=ALICE, at=clock.now(), severity=Severity.P0
    )
    for _ in range(3):  # level 0 pages; levels 1 and 2 email
        assert await fire_due(store, paths, clock, Reach()) >= 1
        clock.advance(15 * 60)

    noted = await entries_of(store, incident.id, EventKind.NOTIFICATION_UNCONFIGURED)
    assert [(e.body["via"], e.body["setting"]) for e in noted] == [
        ("page", "PAGERDUTY_ROUTING_KEY"),
        ("email", "FIREBREAK_SMTP_URL"),
    ]
    assert len(await entries_of(store, incident.id, EventKind.ESCALATION_FIRED)) == 3


async def test_configured_ways_write_no_note(policy: Policy, clock: FixedClock) -> None:
    paths = escalation_policy(policy)
    store = escalating_store(MemoryStore(), paths, clock)
    incident = await declare_incident(
        store, paths, title="down", actor=ALICE, at=clock.now(), severity=Severity.P0
    )
    clock.advance(15 * 60)
    assert await fire_due(store, paths, clock, Reach(paging=True, email=True)) == 3
    assert await entries_of(store, incident.id, EventKind.NOTIFICATION_UNCONFIGURED) == []


async def test_a_timer_of_an_incident_no_longer_triggered_is_cancelled_not_fired(
    policy: Policy, clock: FixedClock
) -> None:
    paths = escalation_policy(policy)
    inner = MemoryStore()
    store = escalating_store(inner, paths, clock)
    incident = await declare_incident(
        store, paths, title="down", actor=ALICE, at=clock.now(), severity=Severity.P0
    )
    # Acknowledged without the reactor seeing it (as by a version before the timers).
    async with inner.transaction() as uow:
        await uow.incidents.save(
            incident.moved_to(IncidentStatus.ACKNOWLEDGED, by=ALICE, at=clock.now())
        )
    clock.advance(3600)

    assert await fire_due(store, paths, clock, Reach()) == 0
    assert await entries_of(store, incident.id, EventKind.ESCALATION_FIRED) == []
    assert {(t.status, t.cancelled_reason) for t in await timers_of(store, incident.id)} == {
        (TimerStatus.CANCELLED, "acknowledged")
    }


async def test_a_level_the_policy_no_longer_has_tells_nobody(
    policy: Policy, clock: FixedClock
) -> None:
    paths = escalation_policy(policy)
    store = escalating_store(MemoryStore(), paths, clock)
    incident = await declare_incident(
        store, paths, title="down", actor=ALICE, at=clock.now(), severity=Severity.P0
    )
    # Restarted with a policy whose P0 path is one level long.
    p0 = paths.levels[Severity.P0]
    shorter = replace(paths, levels={**paths.levels, Severity.P0: replace(p0, path=p0.path[:1])})
    clock.advance(30 * 60)

    assert await fire_due(store, shorter, clock, Reach(paging=True, email=True)) == 4
    fired = await entries_of(store, incident.id, EventKind.ESCALATION_FIRED)
    assert [e.body["level"] for e in fired] == [0]
    assert len(await entries_of(store, incident.id, EventKind.RESPONSE_OVERDUE)) == 1
    pending = [
        t.level for t in await timers_of(store, incident.id) if t.status is TimerStatus.PENDING
    ]
    assert pending == [3]
