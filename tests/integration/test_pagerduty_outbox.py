"""PagerDuty rows through the real outbox worker, on every store: the real ``pagerduty``
client against the fake_pagerduty PagerDuty over TLS. A fake_pagerduty answering 500, then 429, then 202 still
leaves one alert in effect and the row sent; a 400 is recorded failed with PagerDuty's words
and never sent again; without a routing key the rows are logged and kept unconfigured."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.incident import JSON
from bot.domain.outbox import (
    PAGERDUTY,
    SLACK,
    OutboundCall,
    OutboxStatus,
    pagerduty_key,
)
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.pagerduty import PagerDutyLogSender, PagerDutySender
from bot.integrations.slack.log_sender import LogSender
from bot.ports import Sender, Store
from tests.fakes.pagerduty.server import FakePagerDuty
from tests.fakes.pagerduty.testing import ROUTING_KEY
from tests.support.outbox import enqueue, rows

INCIDENT = 7
KEY = "firebreak-incident-7"
LONG_AFTER_S = 3600.0


def page(method: str, **args: object) -> OutboundCall:
    body: JSON = {"dedup_key": KEY, "service": ""}
    if method == "trigger":
        body |= {"summary": "P0 lnn-service down", "source": "lnn-service", "severity": "critical"}
    body |= args
    return OutboundCall(
        ordering_key=pagerduty_key(INCIDENT), method=method, args=body, target=PAGERDUTY
    )


def worker_for(store: Store, clock: FixedClock, pagerduty: Sender) -> OutboxWorker:
    senders: Mapping[str, Sender] = {SLACK: LogSender(), PAGERDUTY: pagerduty}
    return OutboxWorker(store, senders, clock, worker_id="w1", rng=random.Random(7))


@pytest.fixture
def worker(
    store: Store, clock: FixedClock, pagerduty_served: tuple[FakePagerDuty, str]
) -> Iterator[OutboxWorker]:
    sender = PagerDutySender(ROUTING_KEY, events_url=pagerduty_served[1], clock=clock, timeout=5)
    yield worker_for(store, clock, sender)
    sender.close()


async def test_500_then_429_then_202_is_one_alert_and_the_row_sent(
    store: Store, clock: FixedClock, fake_pagerduty: FakePagerDuty, worker: OutboxWorker
) -> None:
    fake_pagerduty.script_events(500, 429, 202)
    await enqueue(store, clock, page("trigger"), page("acknowledge"))

    assert await worker.drain() == 1  # 500: the trigger waits for its backoff, the ack behind it
    clock.advance(worker.backoff_base)
    await worker.drain()  # 429 without Retry-After: trigger pauses 30 s
    assert worker.paused_until("trigger", PAGERDUTY) == clock.now() + timedelta(seconds=30)
    assert [r.status for r in fake_pagerduty.events] == [500, 429]
    clock.advance(30)
    await worker.drain()

    assert [r.status for r in fake_pagerduty.events] == [
        500,
        429,
        202,
        202,
    ]  # one request per attempt
    (alert,) = fake_pagerduty.alerts.for_key(KEY)
    assert alert.actions() == ["trigger", "acknowledge"]
    assert alert.status == "acknowledged"
    trigger, ack = await rows(store)
    assert (trigger.status, trigger.attempts) == (OutboxStatus.SENT, 3)
    assert trigger.result == {"dedup_key": KEY, "status": "success", "message": "Event processed"}
    assert (ack.status, ack.attempts) == (OutboxStatus.SENT, 1)


async def test_a_400_is_recorded_failed_with_pagerdutys_message_and_not_retried(
    store: Store, clock: FixedClock, fake_pagerduty: FakePagerDuty, worker: OutboxWorker
) -> None:
    await enqueue(store, clock, page("trigger", severity="sev1"), page("resolve"))
    await worker.drain()
    clock.advance(LONG_AFTER_S)
    await worker.drain()

    trigger, resolve = await rows(store)
    assert (trigger.status, trigger.attempts) == (OutboxStatus.FAILED, 1)
    assert trigger.last_error == (
        "HTTP 400: Event object is invalid: "
        "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
    )
    # The resolve behind it is not held back; PagerDuty has no alert to resolve and drops it.
    assert resolve.status is OutboxStatus.SENT
    assert [r.status for r in fake_pagerduty.events] == [400, 202]
    assert fake_pagerduty.alerts.all == []
    assert len(fake_pagerduty.alerts.dropped) == 1


async def test_without_a_routing_key_rows_are_logged_and_kept_unconfigured(
    store: Store, clock: FixedClock, fake_pagerduty: FakePagerDuty
) -> None:
    worker = worker_for(store, clock, PagerDutyLogSender())
    await enqueue(store, clock, page("trigger"), page("resolve"))
    assert await worker.drain() == 2
    stored = await rows(store)
    assert [m.status for m in stored] == [OutboxStatus.UNCONFIGURED] * 2
    assert {m.last_error for m in stored} == {"paging not configured"}
    assert fake_pagerduty.events == []
