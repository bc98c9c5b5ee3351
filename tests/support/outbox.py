"""Helpers for the outbox worker tests: a worker over the real slack_sdk against the fake."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.clock import Clock, FixedClock
from bot.domain.outbox import SLACK, OutboundCall, OutboxMessage, OutboxStatus
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.slack.pacing import slack_pace
from bot.integrations.slack.sender import SlackSender, make_client
from bot.ports import Store
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.testing import seeded_fake
from tests.support.store_builders import new_incident

TOKEN = "xoxb-test-0001"
WAIT_TIMEOUT_S = 20.0


def fake_on(clock: FixedClock) -> FakeSlack:
    """A seeded fake Slack whose fault windows and request times follow ``clock``."""
    return seeded_fake(TOKEN, clock=lambda: clock.now().timestamp())


def make_worker(store: Store, url: str, clock: Clock, **options: Any) -> OutboxWorker:
    """A worker whose Slack sender is unpaced unless ``paced=True``: most tests are about
    other things and move the clock only where they mean to (pacing: ``test_outbox_pacing``).
    Its client waits ``timeout`` seconds for an answer (5 unless given)."""
    paced = bool(options.pop("paced", False))
    timeout = int(options.pop("timeout", 5))
    sender = SlackSender(
        make_client(TOKEN, url, timeout=timeout), clock=clock, pacing=slack_pace if paced else None
    )
    options.setdefault("worker_id", "w1")
    options.setdefault("rng", random.Random(7))
    return OutboxWorker(store, {SLACK: sender}, clock, **options)


async def open_incident(store: Store, group_key: str = "g1") -> int:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key=group_key))
    return incident.id


async def enqueue(store: Store, clock: Clock, *calls: OutboundCall) -> list[OutboxMessage]:
    async with store.transaction() as uow:
        return [await uow.outbox.add(call, at=clock.now()) for call in calls]


async def rows(store: Store, status: OutboxStatus | None = None) -> Sequence[OutboxMessage]:
    async with store.transaction() as uow:
        return await uow.outbox.list(status=status)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = WAIT_TIMEOUT_S
) -> None:
    """Poll ``condition`` every 20 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def post(channel: str, text: str, key: str | None = None) -> OutboundCall:
    return OutboundCall(
        ordering_key=key or f"channel:{channel}",
        method="chat.postMessage",
        args={"channel": channel, "text": text},
    )
