"""Escalation timers on every backend (memory, SQLite, PostgreSQL), with time moved by hand:
levels fire once when due, acknowledging or resolving cancels them, a P1 left alone becomes a
P0, a bot that was down fires late, once, and the response target passes once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import TimerKind, TimerStatus
from bot.domain.events import EventKind, IncidentOpened, StatusChanged, recipients_of
from bot.domain.incident import Incident, IncidentStatus, Severity
from bot.domain.outbox import OutboxMessage
from bot.integrations.notify import email_text, pagerduty_event
from bot.integrations.prometheus import PrometheusMetrics
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.escalation.worker import escalation_worker
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.updates import acknowledge, resolve, set_severity
from bot.services.publishing import PublishingStore
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of
from tests.support.store_builders import new_incident

ALICE = Actor("slack", "U0ALICE")
REACH = Reach(paging=True, email=True)


@pytest.fixture
def paths(policy: Policy) -> Policy:
    return escalation_policy(policy, p2_path=True)


@pytest.fixture
def metrics() -> PrometheusMetrics:
    return PrometheusMetrics()


@pytest.fixture
def published(
    store: Store, paths: Policy, clock: FixedClock, metrics: PrometheusMetrics
) -> PublishingStore:
    return escalating_store(store, paths, clock, metrics=metrics)


async def declare(store: Store, policy: Policy, clock: FixedClock, severity: Severity) -> Incident:
    return await declare_incident(
        store, policy, title="LNN down", actor=ALICE, at=clock.now(), severity=severity
    )


async def fired_levels(store: Store, incident_id: int) -> list[tuple[str, int]]:
    fired = await entries_of(store, incident_id, EventKind.ESCALATION_FIRED)
    return [(e.body["severity"], e.body["level"]) for e in fired]


def escalations(metrics: PrometheusMetrics, severity: str, level: int) -> float:
    value = metrics.registry.get_sample_value(
        "firebreak_escalations_total", {"severity": severity, "level": str(level)}
    )
    return value or 0.0


async def test_an_unacknowledged_p0_escalates_to_the_secondary_then_the_team_lead_once(
    published: PublishingStore, paths: Policy, clock: FixedClock, metrics: PrometheusMetrics
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    stored = await timers_of(published, incident.id)
    assert [(t.kind, t.level, t.due_at - clock.now()) for t in stored] == [
        (TimerKind.LEVEL, 0, timedelta(0)),
        (TimerKind.LEVEL, 1, timedelta(minutes=15)),
        (TimerKind.LEVEL, 2, timedelta(minutes=30)),
        (TimerKind.LEVEL, 3, timedelta(hours=1)),
        (TimerKind.TARGET, -1, timedelta(minutes=15)),
    ]

    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 1
    first = (await entries_of(published, incident.id, EventKind.ESCALATION_FIRED))[0]
    assert [(r.via.value, r.address) for r in recipients_of(first.body["notified"])] == [
        ("page", "lnn"),
        ("slack", "U0PRIMARY"),
    ]

    clock.advance(15 * 60 - 1)
    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 0
    clock.advance(1)
    # The secondary's level and the 15-minute response target.
    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 2
    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 0
    clock.advance(15 * 60)
    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 1
    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 0

    assert await fired_levels(published, incident.id) == [("P0", 0), ("P0", 1), ("P0", 2)]
    fired = await entries_of(published, incident.id, EventKind.ESCALATION_FIRED)
    secondary, lead = fired[1].body, fired[2].body
    assert (secondary["name"], secondary["after_seconds"], secondary["late_seconds"]) == (
        "secondary",
        900,
        0,
    )
    assert {r.address for r in recipients_of(secondary["notified"])} == {
        "platform-oncall@company.com",
        "U0SECOND",
    }
    assert {r.address for r in recipients_of(lead["notified"])} == {
        "liquid-edge-lead@company.com",
        "U0LEAD",
    }
    assert [e.actor.source for e in fired] == ["bot", "bot", "bot"]
    assert (escalations(metrics, "P0", 1), escalations(metrics, "P0", 2)) == (1.0, 1.0)
    # Still pending: the manager's hour.
    pending = [
        t.level for t in await timers_of(published, incident.id) if t.status is TimerStatus.PENDING
    ]
    assert pending == [3]


async def test_an_acknowledged_p0_does_not_escalate(
    published: PublishingStore, paths: Policy, clock: FixedClock, metrics: PrometheusMetrics
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(5 * 60)
    await acknowledge(published, incident.id, actor=ALICE, at=clock.now())
    clock.advance(2 * 3600)

    assert await fire_due(published, paths, clock, REACH, metrics=metrics) == 0
    assert await fired_levels(published, incident.id) == [("P0", 0)]
    assert await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE) == []
    timers = await timers_of(published, incident.id)
    assert [(t.status, t.cancelled_reason) for t in timers if t.level != 0] == [
        (TimerStatus.CANCELLED, "acknowledged")
    ] * 4
    observed = metrics.registry.get_sample_value(
        "firebreak_time_to_acknowledge_seconds_sum", {"severity": "P0"}
    )
    assert observed == 300.0


async def test_resolving_cancels_the_pending_levels(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    clock.advance(60)
    await resolve(published, incident.id, actor=ALICE, at=clock.now())
    clock.advance(2 * 3600)

    assert await fire_due(published, paths, clock, REACH) == 0
    timers = await timers_of(published, incident.id)
    assert {(t.status, t.cancelled_reason) for t in timers} == {(TimerStatus.CANCELLED, "resolved")}
    assert await fired_levels(published, incident.id) == []


async def test_an_unacknowledged_p1_becomes_p0_at_one_hour_and_starts_the_p0_path(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P1)
    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(3600 - 1)
    assert await fire_due(published, paths, clock, REACH) == 0
    clock.advance(1)

    # The upgrade level fires; the P1 target due at the same moment is moot.
    assert await fire_due(published, paths, clock, REACH) == 1
    async with published.transaction() as uow:
        raised = await uow.incidents.get(incident.id)
    assert raised is not None
    assert raised.severity is Severity.P0
    changed = await entries_of(published, incident.id, EventKind.SEVERITY_CHANGED)
    assert [(e.body["from"], e.body["to"], e.body["rule"], e.actor.source) for e in changed] == [
        ("P1", "P0", "escalation", "bot")
    ]
    upgrade = (await entries_of(published, incident.id, EventKind.ESCALATION_FIRED))[-1]
    assert (upgrade.body["level"], upgrade.body["upgrade"]) == (1, "P0")

    # The P0 path started at the upgrade: its first level is due at once.
    assert await fire_due(published, paths, clock, REACH) == 1
    assert await fire_due(published, paths, clock, REACH) == 0
    assert await fired_levels(published, incident.id) == [("P1", 0), ("P1", 1), ("P0", 0)]
    timers = await timers_of(published, incident.id)
    p1_target = [t for t in timers if t.run == 1 and t.kind is TimerKind.TARGET]
    assert [(t.status, t.cancelled_reason) for t in p1_target] == [
        (TimerStatus.CANCELLED, "new path")
    ]
    clock.advance(15 * 60)
    assert await fire_due(published, paths, clock, REACH) == 2
    assert await fired_levels(published, incident.id) == [
        ("P1", 0),
        ("P1", 1),
        ("P0", 0),
        ("P0", 1),
    ]
    overdue = await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE)
    assert [(e.body["severity"], e.body["target_minutes"]) for e in overdue] == [("P0", 15)]


async def test_a_bot_stopped_across_a_deadline_escalates_once_on_start(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    before = escalation_worker(published, paths, clock, REACH)
    assert await before.drain() == 1
    # Down from here: 20 minutes pass with no worker.
    clock.advance(20 * 60)

    after = escalation_worker(published, paths, clock, REACH)
    assert await after.drain() == 1
    assert await after.drain() == 0
    fired = await entries_of(published, incident.id, EventKind.ESCALATION_FIRED)
    assert [(e.body["level"], e.body["late_seconds"]) for e in fired] == [(0, 0), (1, 300)]
    overdue = await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE)
    assert [(e.body["target_minutes"], e.body["level"]) for e in overdue] == [(15, 1)]


async def test_the_running_worker_fires_when_the_clock_passes_a_level(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    worker = escalation_worker(published, paths, clock, REACH, poll=5.0)
    await worker.start()
    try:
        await wait_for_levels(published, incident.id, 1)
        clock.advance(15 * 60)
        # The wake, as a commit would: the worker may be mid-round rather than asleep on
        # the clock when it moves, and must then look again rather than sleep past it.
        worker.wake()
        await wait_for_levels(published, incident.id, 2)
    finally:
        await worker.stop()
    assert await fired_levels(published, incident.id) == [("P0", 0), ("P0", 1)]


async def wait_for_levels(store: Store, incident_id: int, count: int) -> None:
    """Yield to the worker until ``count`` levels have fired (a bounded wait, no timing)."""
    for _ in range(2000):
        if len(await fired_levels(store, incident_id)) >= count:
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"the worker did not fire {count} levels")


async def test_the_response_target_passes_once(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P2)
    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(4 * 3600)
    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(4 * 3600)
    assert await fire_due(published, paths, clock, REACH) == 0
    overdue = await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE)
    assert [(e.body["severity"], e.body["target_minutes"], e.body["level"]) for e in overdue] == [
        ("P2", 240, 0)
    ]


async def test_triggered_again_starts_a_new_run_from_then(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P0)
    assert await fire_due(published, paths, clock, REACH) == 1
    await acknowledge(published, incident.id, actor=ALICE, at=clock.now())
    clock.advance(3600)
    # PagerDuty says nobody holds it any more: back to triggered.
    async with published.transaction() as uow:
        acked = await uow.incidents.get(incident.id, for_update=True)
        assert acked is not None
        again = acked.moved_to(IncidentStatus.TRIGGERED, by=ALICE, at=clock.now())
        await uow.incidents.save(again)
        await uow.timeline.append(
            incident.id,
            at=clock.now(),
            actor=ALICE,
            event=StatusChanged(kind=EventKind.INCIDENT_TRIGGERED),
        )

    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(15 * 60)
    assert await fire_due(published, paths, clock, REACH) == 2
    runs = [(t.run, t.level, t.status) for t in await timers_of(published, incident.id)]
    assert (2, 0, TimerStatus.FIRED) in runs
    assert (2, 1, TimerStatus.FIRED) in runs
    assert (1, 1, TimerStatus.CANCELLED) in runs
    assert await fired_levels(published, incident.id) == [("P0", 0), ("P0", 0), ("P0", 1)]


async def test_a_severity_change_while_acknowledged_starts_no_path(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P1)
    await acknowledge(published, incident.id, actor=ALICE, at=clock.now())
    await set_severity(published, incident.id, Severity.P0, actor=ALICE, at=clock.now())
    clock.advance(2 * 3600)
    assert await fire_due(published, paths, clock, REACH) == 0
    timers = await timers_of(published, incident.id)
    assert {t.run for t in timers} == {1}
    assert TimerStatus.PENDING not in {t.status for t in timers}


async def test_a_severity_change_while_triggered_restarts_the_path_from_then(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    incident = await declare(published, paths, clock, Severity.P1)
    clock.advance(10 * 60)
    await set_severity(published, incident.id, Severity.P0, actor=ALICE, at=clock.now())
    timers = await timers_of(published, incident.id)
    run2 = [(t.severity, t.level, t.due_at - clock.now()) for t in timers if t.run == 2]
    assert run2[:2] == [(Severity.P0, 0, timedelta(0)), (Severity.P0, 1, timedelta(minutes=15))]
    assert {t.cancelled_reason for t in timers if t.run == 1} == {"new path"}


async def test_an_incident_opened_and_acknowledged_in_one_transaction_gets_no_timers(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    async with published.transaction() as uow:
        incident = await uow.incidents.create(new_incident(created_at=clock.now()))
        await uow.timeline.append(
            incident.id,
            at=clock.now(),
            actor=ALICE,
            event=IncidentOpened(
                title=incident.title,
                severity="P0",
                scenario=incident.scenario,
                rule="test",
                response_minutes=15,
            ),
        )
        acked = incident.moved_to(IncidentStatus.ACKNOWLEDGED, by=ALICE, at=clock.now())
        await uow.incidents.save(acked)
        await uow.timeline.append(
            incident.id,
            at=clock.now(),
            actor=ALICE,
            event=StatusChanged(kind=EventKind.INCIDENT_ACKNOWLEDGED),
        )
    assert await timers_of(published, incident.id) == []


async def test_a_p1_raised_to_p0_is_due_15_minutes_after_the_raise_on_card_email_and_page(
    store: Store, paths: Policy, clock: FixedClock
) -> None:
    slack = SlackPublisher(policy=paths, clock=clock, triage_channel="C0TRIAGE")
    published = escalating_store(store, paths, clock, more=[slack])
    incident = await declare(published, paths, clock, Severity.P1)
    assert await fire_due(published, paths, clock, REACH) == 1
    clock.advance(3600)
    raised_at = clock.now()
    assert await fire_due(published, paths, clock, REACH) == 1  # the upgrade
    async with store.transaction() as uow:
        raised = await uow.incidents.get(incident.id)
        timers = await uow.escalations.for_incident(incident.id)
        rows = await uow.outbox.list()
    assert raised is not None
    assert raised.severity is Severity.P0
    # The card redrawn by the raise counts the P0 target from the raise.
    assert "15 min · 15 min left" in last_card(rows)
    body = email_text.body(
        raised, [], paths, reason="r", now=raised_at, public_url="https://x", timers=timers
    )
    assert "Response target: 15 min (15 min left)" in body
    page = pagerduty_event.trigger_args(
        raised, [], paths, level="l", public_url="https://x", timers=timers
    )
    assert page["custom_details"]["respond_by"] == (raised_at + timedelta(minutes=15)).isoformat()

    # The card says overdue when escalation.overdue is written, not before.
    clock.advance(15 * 60 - 1)
    assert await fire_due(published, paths, clock, REACH) == 1  # the P0 path's first level
    assert await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE) == []
    async with store.transaction() as uow:
        assert "15 min · 1 s left" in last_card(await uow.outbox.list())
    clock.advance(1)
    assert await fire_due(published, paths, clock, REACH) == 2  # the P0 level 2 and target
    assert len(await entries_of(published, incident.id, EventKind.RESPONSE_OVERDUE)) == 1
    async with store.transaction() as uow:
        assert "15 min · :warning: overdue ·" in last_card(await uow.outbox.list())


def last_card(rows: Sequence[OutboxMessage]) -> str:
    """The blocks of the card as last drawn (posted or updated)."""
    cards = [
        m
        for m in rows
        if m.call.method in {"chat.postMessage", "chat.update"}
        # The card's buttons block names it; thread lines have none.
        and "firebreak.incident" in json.dumps(m.call.args.get("blocks", []))
    ]
    assert cards, "no card drawn"
    return json.dumps(max(cards, key=lambda m: m.id).call.args["blocks"], ensure_ascii=False)
