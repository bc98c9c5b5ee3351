"""The pace slots (``PaceRepository``) on every store: taken once per interval, held by a
429, one key never slowing another, and kept across transactions."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.outbox import Pace
from bot.ports import Store
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
