"""Maintenance windows at intake, on every store (memory, SQLite, PostgreSQL), through the
real inbox processor and publishers: inside the default policy's Sunday 02:00 UTC window an
alert opens a P2 without a page or a channel, with a maintenance.applied entry; a minute after
the window the same alert opens its room (and, when it would be held, pages); a P0 service
down still pages inside the window unless the window says otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.events import EventKind
from bot.domain.incident import Severity
from bot.policy.maintenance import MaintenanceEffect
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.incidents.queries import show_incident
from tests.support.escalation import entries_of, escalation_policy
from tests.support.inbox import deliver
from tests.support.maintenance import TRIAGE, assert_paged, effects, fire, published
from tests.support.outbox import rows
from tests.support.payloads.alertmanager import alert, resolved, webhook

# Sunday 22 November 2026: the default policy's window is 02:00-04:00 UTC.
INSIDE = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


@pytest.fixture
def paths(shipped_policy: Policy) -> Policy:
    return escalation_policy(shipped_policy, p2_path=True)


async def test_inside_the_sunday_window_a_p1_opens_as_p2_without_a_page_or_channel(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    incident_id, severity, kinds = await fire(store, paths, clock, "g1", "LNNHighLatency", INSIDE)
    assert severity is Severity.P2
    assert kinds[:2] == ["incident.opened", "maintenance.applied"]
    assert await effects(store, incident_id) == (0, 0)
    [mark] = await entries_of(store, incident_id, EventKind.MAINTENANCE_APPLIED)
    assert mark.body["window"] == "weekly maintenance"
    assert (mark.body["classified"], mark.body["severity"]) == ("P1", "P2")
    assert mark.body["ends_at"] == WINDOW_END.isoformat()
    # The card went to the triage channel, as every P2's does.
    triage = [r.call for r in await rows(store) if r.call.args.get("channel") == TRIAGE]
    assert any(c.incident_id == incident_id for c in triage)


async def test_a_minute_after_the_window_the_same_alert_opens_its_room(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    after = WINDOW_END + timedelta(minutes=1)
    incident_id, severity, kinds = await fire(store, paths, clock, "g2", "LNNHighLatency", after)
    assert severity is Severity.P1
    assert "maintenance.applied" not in kinds
    assert await effects(store, incident_id) == (0, 1)
    # And it pages as a P1 does: the P1 path's first level, at once, tells the primary in
    # the incident's channel (the P1 path has no PagerDuty page; P0's has).
    await assert_paged(store, incident_id, Severity.P1)


async def test_a_p0_service_down_still_pages_inside_the_window(store: Store, paths: Policy) -> None:
    clock = FixedClock(INSIDE)
    incident_id, severity, kinds = await fire(store, paths, clock, "g3", "LNNServiceDown", INSIDE)
    assert severity is Severity.P0
    # Marked, so responders know maintenance is on, but not held.
    assert "maintenance.applied" in kinds
    assert await effects(store, incident_id) == (1, 1)


async def test_a_window_that_holds_p0_too_pages_only_after_it_ends(
    store: Store, paths: Policy
) -> None:
    [weekly] = paths.maintenance
    strict = replace(paths, maintenance=(replace(weekly, effect=MaintenanceEffect(keep=())),))
    clock = FixedClock(INSIDE)
    # The last second of the window, then the same alert (a new group) one minute later.
    last = WINDOW_END - timedelta(seconds=1)
    held, severity, _ = await fire(store, strict, clock, "g4", "LNNServiceDown", last)
    assert severity is Severity.P2
    assert await effects(store, held) == (0, 0)
    later, severity, kinds = await fire(
        store, strict, clock, "g5", "LNNServiceDown", last + timedelta(minutes=1)
    )
    assert severity is Severity.P0
    assert "maintenance.applied" not in kinds
    assert await effects(store, later) == (1, 1)


async def test_another_service_is_not_covered_by_the_lnn_window(
    store: Store, paths: Policy
) -> None:
    clock = FixedClock(INSIDE)
    payload = webhook("g6", [alert("LNNHighLatency", service="checkout", starts_at=INSIDE)])
    result = await deliver(published(store, paths, clock), paths, clock, payload)
    detail = await show_incident(store, result.incident_ids[0])
    assert detail.incident.severity is Severity.P1
    assert "maintenance.applied" not in [e.kind for e in detail.timeline]


async def test_a_flap_inside_the_window_is_held_like_an_incident_opened_there(
    store: Store, paths: Policy
) -> None:
    # Opened as P1 five minutes before the window, resolved inside it, firing again inside.
    before = datetime(2026, 11, 22, 1, 55, tzinfo=UTC)
    clock = FixedClock(before)
    incident_id, severity, _ = await fire(store, paths, clock, "g6", "LNNHighLatency", before)
    assert severity is Severity.P1
    latency = alert("LNNHighLatency", service="lnn-service", group="g6", starts_at=before)
    clock.advance(6 * 60)
    gone = webhook("g6", [resolved(latency, clock.now())])
    assert (await deliver(published(store, paths, clock), paths, clock, gone)).resolved_incidents
    again = datetime(2026, 11, 22, 2, 5, tzinfo=UTC)
    reopened, severity, kinds = await fire(store, paths, clock, "g6", "LNNHighLatency", again)

    assert reopened == incident_id  # a flap, not a new incident
    assert severity is Severity.P2
    assert kinds[-6:] == [
        "incident.triggered",
        "incident.flapped",
        "severity.changed",
        "maintenance.applied",
        "alert.firing",
        "escalation.fired",
    ]
    # The path the reopen started is the held severity's (P2: an email, no page).
    fired = await entries_of(store, incident_id, EventKind.ESCALATION_FIRED)
    assert [e.body["severity"] for e in fired] == ["P1", "P2"]
    [lowered] = await entries_of(store, incident_id, EventKind.SEVERITY_CHANGED)
    assert (lowered.body["from"], lowered.body["to"], lowered.body["rule"]) == (
        "P1",
        "P2",
        "maintenance",
    )
    pages, _ = await effects(store, incident_id)
    assert pages == 0
