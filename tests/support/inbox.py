"""Deliver Alertmanager notifications to a store the way the running bot does.

Intake stores each delivery as a pending inbox row (``uow.deliveries.enqueue``) and the real
``InboxProcessor`` applies it afterwards. Service-level tests go through exactly that path
rather than calling ``apply_alert_group`` themselves, so they also prove that a delivery is
taken from the inbox, applied once and settled in the same transaction.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.domain.incident import AlertGroup, Delivery, DeliveryOutcome, Source
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.incidents.inbox import InboxProcessor, Processed
from bot.services.incidents.ingest_alertmanager import AlertIngestResult
from handlers.alertmanager_schema import parse_alertmanager
from handlers.pagerduty_schema import parse_pagerduty
from tests.support.payloads.alertmanager import alert, webhook

_keys = itertools.count(1)

SETTLED = (DeliveryOutcome.PROCESSED, DeliveryOutcome.IGNORED)


def new_key() -> str:
    return f"test-delivery-{next(_keys)}"


async def enqueue(
    store: Store, clock: Clock, payload: dict[str, Any] | bytes, *, key: str = ""
) -> Delivery:
    """Store ``payload`` as a pending Alertmanager delivery, as intake does before its 202."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    delivery = Delivery(
        source=Source.ALERTMANAGER,
        key=key or new_key(),
        received_at=clock.now(),
        body=raw,
        # Intake records the validated payload's status; these payloads are valid.
        event_type=str(json.loads(raw)["status"]),
    )
    async with store.transaction() as uow:
        await uow.deliveries.enqueue([delivery])
    return delivery


def processor(
    store: Store, policy: Policy, clock: Clock, *, pagerduty: bool = False
) -> InboxProcessor:
    """The inbox processor the app runs, over ``store`` (no intake: nothing to step aside for);
    it takes PagerDuty deliveries too when ``pagerduty`` is set, as the app's does."""
    return InboxProcessor(
        store=store,
        policy=policy,
        clock=clock,
        parse=parse_alertmanager,
        parse_pagerduty=parse_pagerduty if pagerduty else None,
    )


async def process(
    store: Store, policy: Policy, clock: Clock, payload: dict[str, Any] | bytes, *, key: str = ""
) -> Processed:
    """Enqueue one delivery and drain the inbox; it must be the only one processed, and settled
    (processed or ignored, not failed nor deferred)."""
    delivery = await enqueue(store, clock, payload, key=key)
    done = await processor(store, policy, clock).drain()
    assert [p.pending.delivery.key for p in done] == [delivery.key], done
    (processed,) = done
    assert processed.pending.delivery == delivery
    assert processed.pending.attempts == 0
    assert processed.outcome in SETTLED, processed
    assert processed.result is not None, processed
    async with store.transaction() as uow:
        assert await uow.deliveries.count_pending() == 0
    return processed


async def deliver(
    store: Store, policy: Policy, clock: Clock, payload: dict[str, Any] | bytes, *, key: str = ""
) -> AlertIngestResult:
    """Enqueue and process one delivery; what applying it did."""
    processed = await process(store, policy, clock, payload, key=key)
    assert processed.result is not None
    # The delivery's settlement agrees with its effect.
    expected = (
        DeliveryOutcome.PROCESSED if processed.result.incident_ids else DeliveryOutcome.IGNORED
    )
    assert processed.outcome is expected, processed
    return processed.result


# A startsAt that fits a datetime but whose UTC value (year 10000) does not. Intake accepted
# it before it checked, and processing it raised OverflowError deep in the store.
NO_UTC_STARTS_AT = "9999-12-31T23:00:00-14:00"


def poison_payload(group_key: str) -> dict[str, Any]:
    """A delivery an older version acknowledged and stored, which intake now refuses."""
    payload = webhook(group_key, [alert("LNNHighLatency", instance=group_key)])
    payload["alerts"][0]["startsAt"] = NO_UTC_STARTS_AT
    return payload


def parse_as_before(raw: bytes) -> AlertGroup:
    """``parse_alertmanager`` as it read start times before intake refused those with no UTC
    value: how the processor of a version that stored ``poison_payload`` saw it."""
    doc = json.loads(raw)
    starts = [a["startsAt"] for a in doc["alerts"]]
    for a in doc["alerts"]:
        a["startsAt"] = "2026-01-01T00:00:00Z"
    group = parse_alertmanager(json.dumps(doc).encode())
    alerts = tuple(
        dataclasses.replace(a, starts_at=datetime.fromisoformat(s))
        for a, s in zip(group.alerts, starts, strict=True)
    )
    return dataclasses.replace(group, alerts=alerts)
