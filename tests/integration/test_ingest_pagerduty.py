"""The PagerDuty ingest use case on every store backend, through the inbox as the bot runs it."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.incident import (
    Delivery,
    DeliveryOutcome,
    IncidentFilter,
    IncidentStatus,
    Severity,
    Source,
)
from bot.domain.timeline import verify_chain
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.incidents.ingest_pagerduty import PagerDutyIngestResult
from bot.services.incidents.queries import show_incident
from handlers.pagerduty_schema import parse_pagerduty
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
