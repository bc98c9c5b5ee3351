"""The outbox worker knows no target: a second, trivial sender (JSON over HTTP to a server on
127.0.0.1) registered beside Slack's gets its rows delivered, retried, paced and ordered per
key exactly as Slack's are, on every store."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.clock import FixedClock
from bot.domain.incident import JSON
from bot.domain.outbox import (
    SLACK,
    OutboundCall,
    OutboxStatus,
    Outcome,
    SendResult,
)
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.slack.log_sender import LogSender
from bot.ports import Lease, Sender, Store
from tests.support.outbox import enqueue, rows

HOOK = "hook"
A, B = "key:A", "key:B"


@dataclass
class HookServer:
    """Records each call; answers 200 unless a status was queued for the next ones."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, JSON]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append((request.match_info["method"], await request.json()))
            return web.json_response({"id": len(self.received), "echo": "not kept"})
        headers = {"Retry-After": "5"} if status == 429 else {}
        return web.json_response({"error": "no"}, status=status, headers=headers)

    def texts(self) -> list[str]:
        return [str(args["text"]) for _, args in self.received]


class HookSender:
    """The whole of a target: one HTTP call, and what its answer means for the row."""

    configured = True

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        try:
            async with self._session.post(f"{self._base}/{method}", json=args) as response:
                answer = await response.json()
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(Outcome.RETRY, method, error=f"connection: {exc!r}")
        if response.status == 429:
            wait = float(response.headers.get("Retry-After", "30"))
            return SendResult(Outcome.RATE_LIMITED, method, error="429", retry_after=wait)
        if response.status >= 500:
            return SendResult(Outcome.RETRY, method, error=f"HTTP {response.status}")
        if response.status >= 400:
            return SendResult(Outcome.FAILED, method, error=f"HTTP {response.status}")
        return SendResult(Outcome.SENT, method, answer=answer, kept={"id": answer["id"]})

    def skip(self, call: OutboundCall) -> str:
        return ""


@pytest.fixture
async def server() -> AsyncIterator[tuple[HookServer, str]]:
    hook = HookServer()
    app = web.Application()
    app.router.add_post("/{method}", hook.handle)
    async with TestServer(app, host="127.0.0.1", port=0) as test_server:
        yield hook, str(test_server.make_url("")).rstrip("/")


@pytest.fixture
async def worker(
    store: Store, clock: FixedClock, server: tuple[HookServer, str]
) -> AsyncIterator[OutboxWorker]:
    async with aiohttp.ClientSession() as session:
        senders: dict[str, Sender] = {
            SLACK: LogSender(),
            HOOK: HookSender(session, server[1]),
        }
        yield OutboxWorker(store, senders, clock, worker_id="w1", rng=random.Random(7))


def hook(key: str, text: str, *, target: str = HOOK) -> OutboundCall:
    return OutboundCall(ordering_key=key, method="notify", args={"text": text}, target=target)


def slack(key: str, text: str) -> OutboundCall:
    return OutboundCall(ordering_key=key, method="chat.postMessage", args={"text": text})


async def test_rows_of_a_second_target_are_delivered_in_order_per_key(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    await enqueue(store, clock, hook(A, "a1"), hook(B, "b1"), hook(A, "a2"), hook(B, "b2"))
    assert await worker.drain() == 4
    texts = received.texts()
    assert sorted(texts) == ["a1", "a2", "b1", "b2"]
    assert texts.index("a1") < texts.index("a2")
    assert texts.index("b1") < texts.index("b2")
    done = await rows(store)
    assert {m.status for m in done} == {OutboxStatus.SENT}
    assert {m.attempts for m in done} == {1}
    assert all(m.result is not None and set(m.result) == {"id"} for m in done)


async def test_each_row_goes_to_the_sender_of_its_target_in_key_order(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    await enqueue(store, clock, slack(A, "to slack"), hook(A, "after slack"))
    assert await worker.run_once() == 1  # the key's head only: Slack's, logged unconfigured
    assert received.received == []
    assert await worker.run_once() == 1
    assert received.texts() == ["after slack"]
    statuses = [(m.call.target, m.status) for m in await rows(store)]
    assert statuses == [(SLACK, OutboxStatus.UNCONFIGURED), (HOOK, OutboxStatus.SENT)]


async def test_a_failed_call_of_the_second_target_is_retried_and_holds_its_key(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    received.statuses = [503]
    await enqueue(store, clock, hook(A, "a1"), hook(A, "a2"))
    assert await worker.drain() == 1  # a1 failed and waits for its backoff; a2 behind it
    assert received.received == []
    clock.advance(worker.backoff_base)  # the first backoff is at most ``backoff_base``
    assert await worker.drain() == 2
    assert received.texts() == ["a1", "a2"]
    first, second = await rows(store)
    assert (first.status, first.attempts) == (OutboxStatus.SENT, 2)
    assert (second.status, second.attempts) == (OutboxStatus.SENT, 1)


async def test_a_rate_limited_method_of_the_second_target_waits_its_retry_after(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    received.statuses = [429]
    await enqueue(store, clock, hook(A, "a1"), hook(B, "b1"))
    await worker.drain()
    assert worker.paused_until("notify", HOOK) == clock.now() + timedelta(seconds=5)
    assert worker.paused_until("notify", SLACK) is None  # the pause is the target's own
    assert received.received == []
    clock.advance(5)
    await worker.drain()
    assert sorted(received.texts()) == ["a1", "b1"]


async def test_a_refused_call_fails_for_good_and_the_key_goes_on(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    received.statuses = [400]
    await enqueue(store, clock, hook(A, "a1"), hook(A, "a2"))
    await worker.drain()
    first, second = await rows(store)
    assert (first.status, first.last_error) == (OutboxStatus.FAILED, "HTTP 400")
    assert second.status is OutboxStatus.SENT


async def test_a_row_for_a_target_nobody_registered_fails_for_good(
    store: Store, clock: FixedClock, worker: OutboxWorker, server: tuple[HookServer, str]
) -> None:
    received, _ = server
    await enqueue(store, clock, hook(A, "lost", target="pager"), hook(A, "a2"))
    await worker.drain()
    first, second = await rows(store)
    assert (first.status, first.last_error) == (OutboxStatus.FAILED, "unknown_target:pager")
    assert second.status is OutboxStatus.SENT
    assert received.texts() == ["a2"]
