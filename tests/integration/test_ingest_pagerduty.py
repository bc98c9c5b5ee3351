"""The PagerDuty ingest use case on every store backend, through the inbox as the bot runs it."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import NewTimer, TimerKind, TimerStatus
from bot.domain.events import EventKind
from bot.domain.incident import (
    Delivery,
    DeliveryOutcome,
    Incident,
    IncidentFilter,
    IncidentStatus,
    Severity,
    Source,
    TimelineEntry,
)
from bot.domain.timeline import verify_chain
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.entry_text import describe
from bot.services.incidents.ingest_pagerduty import ACTOR, PagerDutyIngestResult, person
from bot.services.incidents.queries import show_incident
from bot.services.incidents.updates import acknowledge, resolve
from handlers.pagerduty_schema import parse_pagerduty
from tests.support.escalation import escalating_store
from tests.support.inbox import deliver, processor
from tests.support.payloads import alertmanager as am
from tests.support.payloads.pagerduty import annotation_event, encode, incident_event


async def send(
    store: Store, policy: Policy, clock: FixedClock, payload: dict[str, Any], key: str = ""
) -> PagerDutyIngestResult:
    """Deliver ``payload`` the way the running bot does: stored in the inbox unless its key is
    stored already (a replay: ``DUPLICATE``), then applied by the inbox processor."""
    raw = encode(payload)
    event = parse_pagerduty(raw)
    assert event is not None
    delivery = Delivery(Source.PAGERDUTY, key or uuid.uuid4().hex, clock.now(), raw)
    async with store.transaction() as uow:
        if not await uow.deliveries.enqueue_once(delivery):
            return PagerDutyIngestResult(DeliveryOutcome.DUPLICATE)
    work = processor(store, policy, clock, pagerduty=True)
    (processed,) = await work.drain()
    assert processed.pending.delivery == delivery
    assert processed.pagerduty is not None, processed
    assert processed.outcome is processed.pagerduty.outcome
    return processed.pagerduty


@pytest.mark.parametrize(
    "order",
    list(
        itertools.permutations(["incident.triggered", "incident.acknowledged", "incident.resolved"])
    ),
    ids=lambda o: ">".join(t.split(".")[1][:3] for t in o),
)
async def test_every_order_of_lifecycle_events_ends_resolved(
    store: Store, policy: Policy, clock: FixedClock, order: tuple[str, ...]
) -> None:
    occurred = {
        "incident.triggered": am.T0,
        "incident.acknowledged": am.T0 + timedelta(minutes=2),
        "incident.resolved": am.T0 + timedelta(minutes=9),
    }
    ids = {
        (await send(store, policy, clock, incident_event(t, occurred[t]))).incident_id
        for t in order
    }
    assert len(ids) == 1
    (incident_id,) = ids
    assert incident_id is not None
    detail = await show_incident(store, incident_id)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert detail.incident.resolved_at == occurred["incident.resolved"]
    verify_chain(detail.timeline)
    assert sum(e.kind.startswith("pagerduty.") for e in detail.timeline) == 3


async def test_replayed_delivery_has_no_second_effect(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    payload = incident_event("incident.triggered", am.T0)
    first = await send(store, policy, clock, payload, key="wh-1")
    again = await send(store, policy, clock, payload, key="wh-1")
    assert first.outcome is DeliveryOutcome.PROCESSED
    assert again.outcome is DeliveryOutcome.DUPLICATE
    assert first.incident_id is not None
    detail = await show_incident(store, first.incident_id)
    assert [e.kind for e in detail.timeline] == ["incident.opened", "pagerduty.triggered"]


@pytest.mark.parametrize(
    ("priority", "urgency", "expected"),
    [
        ("P1", "high", Severity.P0),
        ("P2", "low", Severity.P1),
        ("P3", "high", Severity.P1),
        (None, "high", Severity.P1),
        ("P4", "low", Severity.P2),
        (None, "low", Severity.P2),
    ],
)
async def test_priority_and_urgency_classify(
    store: Store,
    policy: Policy,
    clock: FixedClock,
    priority: str | None,
    urgency: str,
    expected: Severity,
) -> None:
    payload = incident_event("incident.triggered", am.T0, priority=priority, urgency=urgency)
    result = await send(store, policy, clock, payload)
    assert result.opened is not None
    assert result.opened.severity is expected


async def test_priority_update_changes_severity(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    opened = await send(
        store, policy, clock, incident_event("incident.triggered", am.T0, urgency="low")
    )
    assert opened.opened is not None
    assert opened.opened.severity is Severity.P2
    await send(
        store,
        policy,
        clock,
        incident_event("incident.priority_updated", am.T0 + timedelta(minutes=1), priority="P1"),
    )
    assert opened.incident_id is not None
    detail = await show_incident(store, opened.incident_id)
    assert detail.incident.severity is Severity.P0
    assert "severity.changed" in [e.kind for e in detail.timeline]


async def test_reopened_after_resolved_is_open_again(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    for minutes, kind in [
        (0, "incident.triggered"),
        (5, "incident.resolved"),
        (8, "incident.reopened"),
    ]:
        result = await send(
            store, policy, clock, incident_event(kind, am.T0 + timedelta(minutes=minutes))
        )
    assert result.incident_id is not None
    detail = await show_incident(store, result.incident_id)
    assert detail.incident.status is IncidentStatus.TRIGGERED
    assert detail.incident.resolved_at is None


async def test_unknown_event_type_is_recorded_as_ignored(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    result = await send(store, policy, clock, incident_event("service.updated", am.T0))
    assert result.outcome is DeliveryOutcome.IGNORED
    async with store.transaction() as uow:
        assert await uow.incidents.list(IncidentFilter()) == []


async def test_annotation_lands_on_the_timeline(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    opened = await send(store, policy, clock, incident_event("incident.triggered", am.T0))
    await send(
        store,
        policy,
        clock,
        annotation_event(am.T0 + timedelta(minutes=1), "PT4KHLK", "rolled back"),
    )
    assert opened.incident_id is not None
    detail = await show_incident(store, opened.incident_id)
    notes = [e.body.get("note") for e in detail.timeline if e.kind == "pagerduty.annotated"]
    assert notes == ["rolled back"]


async def test_pagerduty_incident_with_our_dedup_key_joins_the_alert_incident(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    payload = am.webhook("g", [am.alert("LNNHighLatency")])
    born = await deliver(store, policy, clock, payload)
    incident = born.opened[0]
    linked = await send(
        store,
        policy,
        clock,
        incident_event("incident.acknowledged", am.T0, incident_key=incident.dedup_key),
    )
    assert linked.incident_id == incident.id
    assert linked.opened is None
    detail = await show_incident(store, incident.id)
    assert detail.incident.pagerduty_id == "PT4KHLK"
    assert detail.incident.status is IncidentStatus.ACKNOWLEDGED
    async with store.transaction() as uow:
        assert len(await uow.incidents.list(IncidentFilter())) == 1


async def test_every_pagerduty_incident_with_our_key_lands_on_its_incident_linked_or_not(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    born = await deliver(store, policy, clock, am.webhook("g", [am.alert("LNNHighLatency")]))
    incident = born.opened[0]
    # A page by hand's key links an incident not linked yet.
    hand_key = f"{incident.dedup_key}-page-7"
    first = await send(
        store,
        policy,
        clock,
        incident_event("incident.triggered", am.T0, incident_id="PD1", incident_key=hand_key),
    )
    assert (first.incident_id, first.opened) == (incident.id, None)
    # Another PagerDuty incident with its key (the path's page, on its own alert) is recorded
    # on it without relinking; its resolve is about that alert, not the incident.
    for event_type in ("incident.triggered", "incident.resolved"):
        other = await send(
            store,
            policy,
            clock,
            incident_event(event_type, am.T0, incident_id="PD2", incident_key=incident.dedup_key),
        )
        assert (other.incident_id, other.opened) == (incident.id, None)
    async with store.transaction() as uow:
        assert [i.id for i in await uow.incidents.list(IncidentFilter())] == [incident.id]
    detail = await show_incident(store, incident.id)
    assert (detail.incident.pagerduty_id, detail.incident.status) == (
        "PD1",
        IncidentStatus.TRIGGERED,
    )
    received = [e.kind for e in detail.timeline if e.kind.startswith("pagerduty.")]
    assert received == [
        "pagerduty.linked",
        "pagerduty.triggered",
        "pagerduty.triggered",
        "pagerduty.resolved",
    ]


# --- Issue 16: PagerDuty events move the incident firebreak paged, without echoes. ---

PERSON = Actor("pagerduty", "PUSER1")


def acted_by(
    payload: dict[str, Any], agent_id: str, summary: str, kind: str = "user_reference"
) -> dict[str, Any]:
    """``payload`` with its ``agent`` replaced: a person (``user_reference``) or, for an
    Events API call such as firebreak's own, the service it went to."""
    payload["event"]["agent"] = {"id": agent_id, "summary": summary, "type": kind}
    return payload


def ours(event_type: str, minutes: float, incident_key: str, **kwargs: Any) -> dict[str, Any]:
    """A v3 event about the PagerDuty incident firebreak's page opened."""
    return incident_event(
        event_type, am.T0 + timedelta(minutes=minutes), incident_key=incident_key, **kwargs
    )


async def alert_incident(store: Store, policy: Policy, clock: FixedClock) -> Incident:
    born = await deliver(store, policy, clock, am.webhook("g", [am.alert("LNNHighLatency")]))
    return born.opened[0]


def kinds_by_actor(timeline: Sequence[TimelineEntry]) -> list[tuple[str, str]]:
    return [(e.kind, str(e.actor)) for e in timeline]


async def test_acknowledged_in_pagerduty_is_acknowledged_here_by_that_person(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await alert_incident(store, policy, clock)
    ack = acted_by(ours("incident.acknowledged", 3, incident.dedup_key), "PUSER1", "Ann Oncall")
    await send(store, policy, clock, ack)

    detail = await show_incident(store, incident.id)
    assert detail.incident.status is IncidentStatus.ACKNOWLEDGED
    assert detail.incident.acknowledged_by == str(PERSON) == "pagerduty:PUSER1"
    assert detail.incident.acknowledged_at == am.T0 + timedelta(minutes=3)
    acked = [e for e in detail.timeline if e.kind == "incident.acknowledged"]
    # The entry stays PagerDuty's (the publisher sends nothing back for it); the person is
    # on the incident and named in the entry.
    assert [e.actor for e in acked] == [ACTOR]
    assert acked[0].body["reason"] == "in PagerDuty by Ann Oncall"
    received = [e for e in detail.timeline if e.kind == "pagerduty.acknowledged"]
    assert received[0].body["agent"] == "Ann Oncall"


async def test_resolved_in_pagerduty_is_resolved_here_by_that_person(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await alert_incident(store, policy, clock)
    done = acted_by(ours("incident.resolved", 9, incident.dedup_key), "PUSER1", "Ann Oncall")
    await send(store, policy, clock, done)

    detail = await show_incident(store, incident.id)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert detail.incident.resolved_by == "pagerduty:PUSER1"
    assert detail.incident.resolved_at == am.T0 + timedelta(minutes=9)
    resolved = [e for e in detail.timeline if e.kind == "incident.resolved"]
    assert [(e.actor, e.body["reason"]) for e in resolved] == [
        (ACTOR, "in PagerDuty by Ann Oncall")
    ]


async def test_our_own_trigger_and_acknowledgement_coming_back_change_nothing(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await alert_incident(store, policy, clock)
    clock.advance(60)
    bob = Actor.parse("slack:U0BOB00001")
    await acknowledge(store, incident.id, actor=bob, at=clock.now())
    # PagerDuty reports firebreak's page (sent late, so newer than the acknowledgement)
    # and then firebreak's acknowledgement, made by the Events API integration.
    await send(store, policy, clock, ours("incident.triggered", 2, incident.dedup_key))
    echo = acted_by(
        ours("incident.acknowledged", 2.1, incident.dedup_key),
        "PIJ90N7",
        "lnn-service",
        "service_reference",
    )
    await send(store, policy, clock, echo)

    detail = await show_incident(store, incident.id)
    assert detail.incident.status is IncidentStatus.ACKNOWLEDGED
    assert detail.incident.acknowledged_by == str(bob)
    assert kinds_by_actor(detail.timeline) == [
        ("incident.opened", "system:alertmanager"),
        ("alert.firing", "system:alertmanager"),
        ("incident.acknowledged", str(bob)),
        ("pagerduty.linked", "system:pagerduty"),
        ("pagerduty.triggered", "system:pagerduty"),
        ("pagerduty.acknowledged", "system:pagerduty"),
    ]


async def test_an_acknowledgement_arriving_after_our_resolve_does_not_reopen_it(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await alert_incident(store, policy, clock)
    alice = Actor.parse("slack:U0ALICE001")
    await acknowledge(store, incident.id, actor=alice, at=clock.now())
    clock.advance(60)
    await resolve(store, incident.id, actor=alice, at=clock.now(), reason="fixed")
    # The outbox sent both late: PagerDuty acknowledged (and then resolved) after our resolve.
    for event_type, minutes in [("incident.acknowledged", 5), ("incident.resolved", 5.1)]:
        event = ours(event_type, minutes, incident.dedup_key)
        await send(store, policy, clock, acted_by(event, "PIJ90N7", "lnn-service", "service"))

    detail = await show_incident(store, incident.id)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert detail.incident.resolved_by == str(alice)
    counted = Counter(e.kind for e in detail.timeline)
    assert counted["incident.acknowledged"] == 1
    assert counted["incident.resolved"] == 1
    assert counted["pagerduty.acknowledged"] == counted["pagerduty.resolved"] == 1


@pytest.mark.parametrize("event_type", ["incident.reassigned", "incident.escalated"])
async def test_reassigned_or_escalated_is_a_timeline_entry_and_nothing_else(
    store: Store, policy: Policy, clock: FixedClock, event_type: str
) -> None:
    incident = await alert_incident(store, policy, clock)
    await send(store, policy, clock, ours("incident.triggered", 1, incident.dedup_key))
    before = (await show_incident(store, incident.id)).incident
    moved = ours(event_type, 16, incident.dedup_key, priority="P1", status="triggered")
    moved["event"]["data"]["assignees"] = [
        {"id": "PUSER2", "summary": "Sam Secondary", "type": "user_reference"}
    ]
    result = await send(store, policy, clock, moved)

    assert result.incident_id == incident.id
    detail = await show_incident(store, incident.id)
    # PagerDuty's P1 would raise an alert incident to P0 on a status event; not on this one.
    assert detail.incident == before
    last = detail.timeline[-1]
    assert (last.kind, last.actor) == (EventKind.for_pagerduty(event_type).value, ACTOR)
    assert last.body["note"] == "to Sam Secondary"
    assert describe(last) == f"PagerDuty: {event_type.split('.')[1]}: to Sam Secondary"


async def test_acknowledged_or_resolved_in_pagerduty_cancels_the_pending_levels(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    incident = await alert_incident(store, policy, clock)
    async with store.transaction() as uow:
        await uow.escalations.schedule(
            [
                NewTimer(incident.id, 1, incident.severity, TimerKind.LEVEL, level, due)
                for level, due in [
                    (1, am.T0 + timedelta(minutes=15)),
                    (2, am.T0 + timedelta(hours=1)),
                ]
            ],
            at=clock.now(),
        )
    ack = acted_by(ours("incident.acknowledged", 3, incident.dedup_key), "PUSER1", "Ann Oncall")
    # Through the running bot's store: the escalation reactor cancels on the status entry.
    await send(escalating_store(store, policy, clock), policy, clock, ack)
    async with store.transaction() as uow:
        timers = await uow.escalations.for_incident(incident.id)
    assert [(t.level, t.status, t.cancelled_reason) for t in timers] == [
        (1, TimerStatus.CANCELLED, "acknowledged"),
        (2, TimerStatus.CANCELLED, "acknowledged"),
    ]


def test_the_agent_is_a_person_only_when_pagerduty_says_it_is_a_user() -> None:
    incident_key = "firebreak-1"
    user = parse_pagerduty(
        encode(acted_by(ours("incident.acknowledged", 1, incident_key), "PUSER1", "Ann"))
    )
    service = parse_pagerduty(
        encode(
            acted_by(
                ours("incident.acknowledged", 1, incident_key),
                "PIJ90N7",
                "lnn-service",
                "service_reference",
            )
        )
    )
    nobody = incident_event("incident.acknowledged", am.T0)
    del nobody["event"]["agent"]
    unnamed = parse_pagerduty(encode(nobody))
    assert user is not None
    assert service is not None
    assert unnamed is not None
    assert (user.agent_id, user.agent_type) == ("PUSER1", "user_reference")
    assert person(user) == PERSON
    assert person(service) == ACTOR
    assert person(unnamed) == ACTOR
