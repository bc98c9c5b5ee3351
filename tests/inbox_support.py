"""Deliver Alertmanager notifications to a store the way the running bot does.

Intake stores each delivery as a pending inbox row (``uow.deliveries.enqueue``) and the real
``InboxProcessor`` applies it afterwards. Service-level tests go through exactly that path
rather than calling ``apply_alert_group`` themselves, so they also prove that a delivery is
taken from the inbox, applied once and settled in the same transaction.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from bot.clock import Clock
from bot.domain import Delivery, DeliveryOutcome, Source
from bot.policy import Policy
from bot.ports import Store
from bot.services.inbox import InboxProcessor, Processed
from bot.services.ingest_alerts import AlertIngestResult
from handlers.alertmanager_schema import parse_alertmanager

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


def processor(store: Store, policy: Policy, clock: Clock) -> InboxProcessor:
    """The inbox processor the app runs, over ``store`` (no intake: nothing to step aside for)."""
    return InboxProcessor(store=store, policy=policy, clock=clock, parse=parse_alertmanager)


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
