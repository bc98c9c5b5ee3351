"""The backlog reader behind the inbox gauges and /readyz: the database's count, read at most
once per ``max_age`` and shared by the requests that arrive meanwhile."""

from __future__ import annotations

import asyncio

from bot.clock import FixedClock
from bot.domain import Delivery, Source
from bot.ports import InboxBacklog
from bot.services.inbox_backlog import BacklogReader
from tests.fakes.memory_store import MemoryStore


async def enqueue(store: MemoryStore, clock: FixedClock, key: str) -> None:
    async with store.transaction() as uow:
        await uow.deliveries.enqueue([Delivery(Source.ALERTMANAGER, key, clock.now(), b"{}", "x")])


async def test_reads_are_shared_within_max_age(clock: FixedClock) -> None:
    store = MemoryStore()
    await enqueue(store, clock, "a")
    reader = BacklogReader(store, max_age=3600)
    before = store.commits
    together = await asyncio.gather(*(reader.read() for _ in range(5)))
    assert together == [InboxBacklog(1, clock.now())] * 5
    assert store.commits == before + 1  # one transaction for the five
    await enqueue(store, clock, "b")
    assert (await reader.read()).pending == 1  # not a second query within the hour


async def test_an_expired_read_is_fresh(clock: FixedClock) -> None:
    store = MemoryStore()
    reader = BacklogReader(store, max_age=0)
    assert await reader.read() == InboxBacklog(0, None)
    await enqueue(store, clock, "a")
    assert await reader.read() == InboxBacklog(1, clock.now())
