"""Real PostgreSQL transactions committing out of id order: the live feed never passes an id
that may still commit, passes over one that was rolled back as soon as the snapshot horizon
shows its writer ended (no timer), and over one held open longer than its bound."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.services.live.events import LiveEvent
from bot.services.live.feed import LiveFeed
from bot.services.live.order import FENCE_DELAY, MAX_GAP_WAIT
from bot.services.live.subscription import Subscription
from db.repositories.timeline import SqlTimelineFeed
from db.store import SqlStore
from tests.support.payloads.alertmanager import T0
from tests.support.sql_store import migrated_store
from tests.support.store_builders import new_incident

pytestmark = pytest.mark.postgres

# A bound for every other transaction on the shared test server to end, not a timing.
HORIZON_BOUND_S = 60.0


class RolledBack(Exception):
    pass


@dataclass
class Open:
    """A transaction that has inserted its entry (its id is taken) and not yet ended."""

    inserted: asyncio.Event
    release: asyncio.Event
    task: asyncio.Task[None]

    async def commit(self) -> None:
        self.release.set()
        await self.task

    async def roll_back(self) -> None:
        self.release.set()
        with contextlib.suppress(RolledBack):
            await self.task


async def hold_open(sql: SqlStore, incident_id: int, text: str, *, roll_back: bool = False) -> Open:
    inserted, release = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with sql.transaction() as uow:
            await uow.timeline.append(
                incident_id, at=T0, actor=Actor("slack", "U1"), event=Note(text=text)
            )
            await uow.flush()  # the INSERT goes out now: the id is taken
            inserted.set()
            await release.wait()
            if roll_back:
                raise RolledBack

    task = asyncio.create_task(write())
    await inserted.wait()
    return Open(inserted, release, task)


async def commit_note(sql: SqlStore, incident_id: int, text: str) -> None:
    async with sql.transaction() as uow:
        await uow.timeline.append(
            incident_id, at=T0, actor=Actor("slack", "U1"), event=Note(text=text)
        )


async def published(subscription: Subscription) -> list[str]:
    """The texts of the events waiting in ``subscription``'s queue."""
    texts: list[str] = []
    for _ in range(subscription.queued):
        event = await subscription.next()
        assert isinstance(event, LiveEvent), event
        texts.append(json.loads(event.data)["text"])
    return texts


@dataclass
class Setup:
    sql: SqlStore
    feed: LiveFeed
    clock: FixedClock
    # Two incidents: two writers appending to one would clash on its next sequence number,
    # the second waiting for the first; out-of-order commits are across incidents.
    incident_id: int
    other_id: int
    subscription: Subscription


@pytest.fixture
async def setup(postgres_url: str) -> AsyncIterator[Setup]:
    async with migrated_store(postgres_url) as sql:
        async with sql.transaction() as uow:
            incident = await uow.incidents.create(new_incident(group_key=None))
            other = await uow.incidents.create(new_incident(group_key=None))
        clock = FixedClock(T0)
        feed = LiveFeed(SqlTimelineFeed(sql.engine), clock)
        await feed.start()
        subscription = feed.subscribe(
            after=None, incident_id=None, connected=lambda: True, disconnect=lambda: None
        )
        yield Setup(sql, feed, clock, incident.id, other.id, subscription)
        await feed.stop()


async def test_timeline_ids_are_handed_out_in_order(setup: Setup) -> None:
    # What the commit order rests on: an id below a committed one was taken before it.
    # A sequence cache would let a session hand out ids it reserved long before.
    async with setup.sql.engine.connect() as conn:
        cache = await conn.scalar(
            text("SELECT cache_size FROM pg_sequences WHERE sequencename = 'timeline_id_seq'")
        )
    assert cache == 1


async def test_an_id_committed_after_a_later_one_goes_out_first_and_none_is_skipped(
    setup: Setup,
) -> None:
    sql, feed, sub = setup.sql, setup.feed, setup.subscription
    first = await hold_open(sql, setup.incident_id, "first")
    await commit_note(sql, setup.other_id, "second")

    await feed.drain()
    assert await published(sub) == []
    # However long it stays open (within the bound), the later id waits behind it.
    setup.clock.advance(MAX_GAP_WAIT.total_seconds() / 2)
    await feed.drain()
    await feed.drain()
    assert await published(sub) == []
    assert feed.position == 0

    await first.commit()
    await feed.drain()
    assert await published(sub) == ["Note: first", "Note: second"]
    assert feed.position == 2


async def test_a_rolled_back_id_is_passed_over_once_its_writer_has_ended(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    sql, feed, sub = setup.sql, setup.feed, setup.subscription
    lost = await hold_open(sql, setup.incident_id, "rolled back", roll_back=True)
    await commit_note(sql, setup.other_id, "kept")
    await feed.drain()
    assert await published(sub) == []

    await lost.roll_back()
    # Only the fence delay passes on the clock, never the bound: the horizon decides.
    setup.clock.advance(FENCE_DELAY.total_seconds())
    deadline = asyncio.get_running_loop().time() + HORIZON_BOUND_S
    texts: list[str] = []
    while not texts:
        assert asyncio.get_running_loop().time() < deadline, "the gap was never passed over"
        await feed.drain()
        texts = await published(sub)
        await asyncio.sleep(0.05)
    assert texts == ["Note: kept"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_id_held_longer_than_the_bound_is_passed_over_and_a_catch_up_finds_it(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    sql, feed, sub = setup.sql, setup.feed, setup.subscription
    stuck = await hold_open(sql, setup.incident_id, "stuck")
    await commit_note(sql, setup.other_id, "after it")
    await feed.drain()
    setup.clock.advance(MAX_GAP_WAIT.total_seconds())
    with caplog.at_level(logging.WARNING, logger="firebreak.live"):
        await feed.drain()
    assert await published(sub) == ["Note: after it"]
    assert "timeline ids 1 still not committed" in caplog.text

    # Committed at last: too late for the live streams, but in the database for a catch-up.
    await stuck.commit()
    await feed.drain()
    assert await published(sub) == []
    late = feed.subscribe(
        after=0, incident_id=None, connected=lambda: True, disconnect=lambda: None
    )
    pages = [page async for page in feed.catch_up(late)]
    assert [e.id for page in pages for e in page] == [1, 2]
