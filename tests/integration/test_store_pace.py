"""The pace slots (``PaceRepository``) on every store: taken once per interval, held by a
429, one key never slowing another, and kept across transactions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.domain.outbox import Pace
from bot.ports import Store
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.support.store_builders import at

CREATE = Pace("slack:conversations.create", 3.0)
POSTS = Pace("slack:post:C1", 1.0, burst=2)


async def test_a_slot_is_taken_once_per_interval_per_key(store: Store) -> None:
    async with store.transaction() as uow:
        assert await uow.pace.take(CREATE, now=at(0)) is None
        assert await uow.pace.take(CREATE, now=at(1)) == at(3)
        assert await uow.pace.take(POSTS, now=at(1)) is None, "another key is free"
    async with store.transaction() as uow:
        assert await uow.pace.take(CREATE, now=at(2.5)) == at(3)
        assert await uow.pace.take(CREATE, now=at(3)) is None
        assert await uow.pace.take(POSTS, now=at(1)) is None, "the burst's second"
        assert await uow.pace.take(POSTS, now=at(1)) == at(2)


async def test_a_rolled_back_take_leaves_the_slot_free(store: Store) -> None:
    class Abandon(Exception):
        pass

    try:
        async with store.transaction() as uow:
            assert await uow.pace.take(CREATE, now=at(0)) is None
            raise Abandon
    except Abandon:
        pass
    async with store.transaction() as uow:
        assert await uow.pace.take(CREATE, now=at(0)) is None


async def test_a_hold_keeps_the_slot_until_then_and_never_earlier(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.pace.hold(CREATE, until=at(30))
        await uow.pace.hold(CREATE, until=at(10))
    async with store.transaction() as uow:
        assert await uow.pace.take(CREATE, now=at(29)) == at(30)
        assert await uow.pace.take(CREATE, now=at(30)) is None
        assert await uow.pace.take(CREATE, now=at(30) + timedelta(seconds=1)) == at(33)


async def test_two_transactions_at_once_never_both_take_the_slot(database_url: str) -> None:
    """The second waits for the first's commit (PostgreSQL's row lock, SQLite's write lock)
    and then finds the slot taken; without the lock both would read it free."""
    await upgrade_async(database_url)
    stores = [SqlStore.from_url(database_url) for _ in range(2)]
    took, commit = asyncio.Event(), asyncio.Event()

    async def first() -> datetime | None:
        async with stores[0].transaction() as uow:
            taken = await uow.pace.take(CREATE, now=at(0))
            took.set()
            await commit.wait()
            return taken

    async def second() -> datetime | None:
        await took.wait()
        async with stores[1].transaction() as uow:
            return await uow.pace.take(CREATE, now=at(1))

    try:
        async with stores[0].transaction() as uow:  # the key's row exists already
            assert await uow.pace.take(CREATE, now=at(-10)) is None
        runs = [asyncio.ensure_future(first()), asyncio.ensure_future(second())]
        await took.wait()
        await asyncio.sleep(0.2)  # room for the second to try while the first is open
        commit.set()
        assert await asyncio.gather(*runs) == [None, at(3)]
    finally:
        for store in stores:
            await store.close()
