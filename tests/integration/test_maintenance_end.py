"""The end of a maintenance window, on every store, through the real inbox processor and
publishers: an incident the window held (a P1 opened as P2) that still fires when the window
ends gets its severity back (``severity.changed``, rule ``maintenance ended``) and so its
room and its page; the end is on the timeline of every incident the window touched. Ad-hoc
windows (``/incident maintenance start``/``end``) hold alerts at intake like the policy's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.actor import BOT, Actor
from bot.domain.events import EventKind
from bot.domain.incident import Severity
from bot.policy.maintenance import MaintenanceEffect
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.incidents.queries import show_incident
from bot.services.incidents.updates import set_severity
from bot.services.maintenance.end import end_maintenance
from bot.services.maintenance.release import release_due
from bot.services.maintenance.start import start_maintenance
from tests.support.escalation import entries_of, escalation_policy
from tests.support.inbox import deliver
from tests.support.maintenance import REACH, assert_paged, effects, fire, published
from tests.support.payloads.alertmanager import alert, resolved, webhook

# Sunday 22 November 2026: the default policy's window is 02:00-04:00 UTC.
INSIDE = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
# A Monday morning, outside every recurring window.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ALICE = Actor.parse("slack:U0ALICE001")


@pytest.fixture
def paths(shipped_policy: Policy) -> Policy:
    return escalation_policy(shipped_policy, p2_path=True)


async def _expire(store: Store, policy: Policy, clock: FixedClock, at: datetime) -> int:
    """Move to ``at``, run the maintenance worker's round, then fire what is due."""
    clock.advance((at - clock.now()).total_seconds())
    released = await release_due(published(store, policy, clock), policy, clock)
    await fire_due(published(store, policy, clock), policy, clock, REACH)
    return released


async def _rated_back(store: Store, incident_id: int, to: Severity) -> None:
    [changed] = [
        e
        for e in await entries_of(store, incident_id, EventKind.SEVERITY_CHANGED)
        if e.body["rule"] == "maintenance ended"
    ]
    assert (changed.body["from"], changed.body["to"]) == ("P2", to.value)


async def test_a_held_p1_still_firing_when_the_sunday_window_ends_pages_then(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    incident_id, severity, _ = await fire(store, paths, clock, "g1", "LNNHighLatency", INSIDE)
    assert severity is Severity.P2
    assert await _expire(store, paths, clock, WINDOW_END - timedelta(seconds=1)) == 0
    assert await effects(store, incident_id) == (0, 0)

    assert await _expire(store, paths, clock, WINDOW_END) == 1

    detail = await show_incident(store, incident_id)
    assert detail.incident.severity is Severity.P1
    [ended] = await entries_of(store, incident_id, EventKind.MAINTENANCE_ENDED)
    assert (ended.actor, ended.body["how"], ended.body["window"]) == (
        BOT,
        "expired",
        "weekly maintenance",
    )
    await _rated_back(store, incident_id, Severity.P1)
    assert await effects(store, incident_id) == (0, 1)  # its own room now
    await assert_paged(store, incident_id, Severity.P1)
    # Once: the next round finds nothing.
    assert await _expire(store, paths, clock, WINDOW_END + timedelta(minutes=1)) == 0


async def test_a_held_p0_pages_through_pagerduty_when_the_window_ends(
    store: Store, paths: Policy
) -> None:
    [weekly] = paths.maintenance
    strict = replace(paths, maintenance=(replace(weekly, effect=MaintenanceEffect(keep=())),))
    clock = FixedClock(INSIDE)
    incident_id, severity, _ = await fire(store, strict, clock, "g2", "LNNServiceDown", INSIDE)
    assert severity is Severity.P2
    await _expire(store, strict, clock, WINDOW_END)
    await _rated_back(store, incident_id, Severity.P0)
    assert await effects(store, incident_id) == (1, 1)
    await assert_paged(store, incident_id, Severity.P0)


async def test_a_held_incident_that_resolved_in_the_window_stays_as_it_was(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    incident_id, _, _ = await fire(store, paths, clock, "g3", "LNNHighLatency", INSIDE)
    latency = alert("LNNHighLatency", service="lnn-service", group="g3", starts_at=INSIDE)
    clock.advance(600)
    gone = webhook("g3", [resolved(latency, clock.now())])
    assert (await deliver(published(store, paths, clock), paths, clock, gone)).resolved_incidents
    before = [e.kind for e in (await show_incident(store, incident_id)).timeline]

    assert await _expire(store, paths, clock, WINDOW_END) == 1  # released, silently

    detail = await show_incident(store, incident_id)
    assert detail.incident.severity is Severity.P2
    assert [e.kind for e in detail.timeline] == before


async def test_a_severity_a_person_set_in_the_window_stands(store: Store, paths: Policy) -> None:
    clock = FixedClock(INSIDE)
    incident_id, _, _ = await fire(store, paths, clock, "g4", "LNNHighLatency", INSIDE)
    await set_severity(
        published(store, paths, clock), incident_id, Severity.P0, actor=ALICE, at=clock.now()
    )
    await _expire(store, paths, clock, WINDOW_END)
    detail = await show_incident(store, incident_id)
    assert detail.incident.severity is Severity.P0
    assert "maintenance.ended" in [e.kind for e in detail.timeline]
    rules = [e.body["rule"] for e in detail.timeline if e.kind == "severity.changed"]
    assert rules == ["manual"]


async def test_inside_an_ad_hoc_window_a_p1_opens_as_p2_and_pages_when_it_is_ended(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(MONDAY)
    started = await start_maintenance(
        published(store, paths, clock),
        service="lnn-service",
        duration=timedelta(hours=1),
        actor=ALICE,
        at=clock.now(),
    )
    inside = MONDAY + timedelta(minutes=10)
    incident_id, severity, kinds = await fire(store, paths, clock, "g5", "LNNHighLatency", inside)
    assert severity is Severity.P2
    assert await effects(store, incident_id) == (0, 0)
    [mark] = await entries_of(store, incident_id, EventKind.MAINTENANCE_APPLIED)
    assert (mark.body["ad_hoc"], mark.body["window"]) == (started.window.id, started.window.name)
    assert (mark.body["classified"], mark.body["severity"]) == ("P1", "P2")
    # Another service is not covered.
    payload = webhook("g6", [alert("LNNHighLatency", service="checkout", starts_at=inside)])
    other = await deliver(published(store, paths, clock), paths, clock, payload)
    assert (await show_incident(store, other.incident_ids[0])).incident.severity is Severity.P1

    clock.advance(600)
    ended = await end_maintenance(
        published(store, paths, clock), paths, service="lnn-service", actor=ALICE, at=clock.now()
    )
    await fire_due(published(store, paths, clock), paths, clock, REACH)

    assert ended.touched == (incident_id,)
    assert [i.id for i in ended.raised] == [incident_id]
    [entry] = await entries_of(store, incident_id, EventKind.MAINTENANCE_ENDED)
    assert (entry.actor, entry.body["how"]) == (ALICE, "ended")
    await _rated_back(store, incident_id, Severity.P1)
    assert await effects(store, incident_id) == (0, 1)
    await assert_paged(store, incident_id, Severity.P1)
    # After the end the same alert (a new group) opens its room and pages at once.
    after, severity, kinds = await fire(
        store, paths, clock, "g7", "LNNHighLatency", clock.now() + timedelta(minutes=1)
    )
    assert severity is Severity.P1
    assert "maintenance.applied" not in kinds
    await assert_paged(store, after, Severity.P1)
    # Nothing is left for the worker when the window's planned end comes.
    assert await _expire(store, paths, clock, started.window.ends_at) == 0


async def test_an_ad_hoc_window_that_runs_its_course_releases_what_it_held(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(MONDAY)
    started = await start_maintenance(
        store, service=None, duration=timedelta(minutes=30), actor=ALICE, at=clock.now()
    )
    inside = MONDAY + timedelta(minutes=5)
    incident_id, severity, _ = await fire(store, paths, clock, "g8", "LNNHighLatency", inside)
    assert severity is Severity.P2
    assert await _expire(store, paths, clock, started.window.ends_at) == 1
    [entry] = await entries_of(store, incident_id, EventKind.MAINTENANCE_ENDED)
    assert (entry.body["how"], entry.body["ad_hoc"]) == ("expired", started.window.id)
    await _rated_back(store, incident_id, Severity.P1)
    await assert_paged(store, incident_id, Severity.P1)


async def test_ending_an_ad_hoc_window_inside_the_sunday_one_leaves_the_hold_to_it(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    await start_maintenance(
        store, service="lnn-service", duration=timedelta(hours=1), actor=ALICE, at=INSIDE
    )
    incident_id, _, _ = await fire(store, paths, clock, "g9", "LNNHighLatency", INSIDE)
    [mark] = await entries_of(store, incident_id, EventKind.MAINTENANCE_APPLIED)
    assert mark.body["window"] == "ad-hoc maintenance #1"  # ad-hoc windows come first
    clock.advance(600)
    ended = await end_maintenance(
        published(store, paths, clock), paths, service="lnn-service", actor=ALICE, at=clock.now()
    )
    assert ended.raised == ()
    assert (await show_incident(store, incident_id)).incident.severity is Severity.P2
    assert await effects(store, incident_id) == (0, 0)

    await _expire(store, paths, clock, WINDOW_END)

    ends = await entries_of(store, incident_id, EventKind.MAINTENANCE_ENDED)
    assert [(e.body["window"], e.body["how"]) for e in ends] == [
        ("ad-hoc maintenance #1", "ended"),
        ("weekly maintenance", "expired"),
    ]
    await _rated_back(store, incident_id, Severity.P1)
    await assert_paged(store, incident_id, Severity.P1)
