"""``LiveFeed`` against an in-memory timeline: one read fans out to every stream, a stream
that falls behind is ended without holding back the others, catch-up is bounded, and the
clock (not the wall) decides heartbeats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.clock import FixedClock
from bot.errors import Overloaded, StorageUnavailable
from bot.services.live.events import LiveEvent, live_event
from bot.services.live.feed import LiveFeed, LiveLimits
from bot.services.live.subscription import BEAT, Ended, Subscription
from tests.fakes.memory.live import MemoryTimelineFeed, feed_entry
from tests.support.payloads.alertmanager import T0


@pytest.fixture
def source() -> MemoryTimelineFeed:
    return MemoryTimelineFeed()


@pytest.fixture
async def feed(source: MemoryTimelineFeed, clock: FixedClock) -> AsyncIterator[LiveFeed]:
    live = LiveFeed(source, clock, limits=LiveLimits(queue=4, max_streams=3, catch_up=5))
    await live.start()
    yield live
    await live.stop()


class Connection:
    """What the stream handler gives the feed: whether its client is there, and a cut."""

    def __init__(self) -> None:
        self.open = True
        self.cut = False

    def connected(self) -> bool:
        return self.open

    def disconnect(self) -> None:
        self.cut = True


def follow(
    feed: LiveFeed, *, after: int | None = None, incident_id: int | None = None
) -> tuple[Subscription, Connection]:
    connection = Connection()
    subscription = feed.subscribe(
        after=after,
        incident_id=incident_id,
        connected=connection.connected,
        disconnect=connection.disconnect,
    )
    return subscription, connection


async def queued(subscription: Subscription) -> list[int]:
    got: list[int] = []
    for _ in range(subscription.queued):
        event = await subscription.next()
        assert isinstance(event, LiveEvent)
        got.append(event.id)
    return got


def commit(source: MemoryTimelineFeed, *ids: int, incident_id: int = 1) -> None:
    source.commit(*(feed_entry(i, incident_id=incident_id, at=T0) for i in ids))


async def test_one_read_reaches_every_stream_and_the_incident_filter_keeps_its_own(
    feed: LiveFeed, source: MemoryTimelineFeed
) -> None:
    everything, _ = follow(feed)
    mine, _ = follow(feed, incident_id=2)
    commit(source, 1, 2, incident_id=1)
    commit(source, 3, incident_id=2)
    reads = source.reads
    await feed.drain()
    assert source.reads == reads + 1
    assert await queued(everything) == [1, 2, 3]
    assert await queued(mine) == [3]
    assert feed.position == 3


async def test_a_stream_that_falls_behind_is_cut_off_and_the_others_keep_everything(
    feed: LiveFeed, source: MemoryTimelineFeed
) -> None:
    slow, slow_connection = follow(feed)
    fast, fast_connection = follow(feed)
    got: list[int] = []
    for first in range(1, 13, 3):
        commit(source, first, first + 1, first + 2)
        await feed.drain()
        got += await queued(fast)
    assert got == list(range(1, 13))
    assert slow.ended is Ended.SLOW
    assert slow_connection.cut
    assert await slow.next() is None
    assert not fast_connection.cut
    assert feed.streams == 1


async def test_streams_beyond_the_cap_and_after_shutdown_are_refused(feed: LiveFeed) -> None:
    streams = [follow(feed)[0] for _ in range(3)]
    with pytest.raises(Overloaded) as refused:
        follow(feed)
    assert refused.value.retry_after == feed.limits.retry_after
    feed.unsubscribe(streams[0])
    follow(feed)
    feed.close_all()
    assert [s.ended for s in streams] == [None, Ended.SHUTDOWN, Ended.SHUTDOWN]
    assert feed.streams == 0
    with pytest.raises(Overloaded, match="shutting down"):
        follow(feed)


async def test_a_client_that_left_is_forgotten_at_the_next_round(feed: LiveFeed) -> None:
    gone, connection = follow(feed)
    connection.open = False
    await feed.drain()
    assert gone.ended is Ended.GONE
    assert not connection.cut
    assert feed.streams == 0


async def test_nothing_can_subscribe_before_the_timeline_was_read(
    source: MemoryTimelineFeed, clock: FixedClock
) -> None:
    source.down = True
    live = LiveFeed(source, clock)
    await live.start()  # logs, and leaves it to the loop
    try:
        with pytest.raises(StorageUnavailable):
            follow(live)
        source.down = False
        await live.drain()
        assert live.position == 0
        follow(live)
    finally:
        await live.stop()


async def test_the_first_read_starts_at_the_head_and_publishes_only_what_follows(
    source: MemoryTimelineFeed, clock: FixedClock
) -> None:
    commit(source, *range(1, 1_001))
    live = LiveFeed(source, clock)
    await live.start()
    try:
        assert live.position == 1_000
        subscription, _ = follow(live)
        commit(source, 1_001)
        await live.drain()
        assert await queued(subscription) == [1_001]
    finally:
        await live.stop()


async def test_catch_up_covers_what_was_missed_up_to_the_position_and_is_bounded(
    feed: LiveFeed, source: MemoryTimelineFeed
) -> None:
    commit(source, *range(1, 9))
    await feed.drain()
    subscription, _ = follow(feed, after=1)
    commit(source, 9)
    await feed.drain()
    pages = [[e.id for e in page] async for page in feed.catch_up(subscription)]
    # At most catch_up (5) events, and only up to the position when it subscribed (8).
    assert [i for page in pages for i in page] == [2, 3, 4, 5, 6]
    assert not subscription.caught_up
    # What it was sent is not handed out again; the live event after it is.
    subscription.sent(6)
    assert await queued(subscription) == [9]

    whole, _ = follow(feed, after=6, incident_id=1)
    assert [e.id for page in [p async for p in feed.catch_up(whole)] for e in page] == [7, 8, 9]
    assert whole.caught_up


async def test_an_id_past_the_head_counts_from_the_head(
    feed: LiveFeed, source: MemoryTimelineFeed
) -> None:
    commit(source, 1, 2)
    await feed.drain()
    subscription, _ = follow(feed, after=50)
    assert [page async for page in feed.catch_up(subscription)] == []
    assert subscription.after == 2
    commit(source, 3)
    await feed.drain()
    assert await queued(subscription) == [3]


async def test_a_quiet_stream_gets_a_heartbeat_when_the_clock_says_so(
    feed: LiveFeed, clock: FixedClock
) -> None:
    subscription, _ = follow(feed)
    clock.advance(feed.limits.heartbeat - 1)
    await feed.drain()
    assert subscription.queued == 0
    clock.advance(1)
    await feed.drain()
    assert await subscription.next() is BEAT


def test_an_event_is_one_line_of_json_with_the_timeline_sentence() -> None:
    event = live_event(
        feed_entry(7, incident_id=3, text="a <b>\n\u2028line</b> & \U0001f525", at=T0, seq=4)
    )
    assert "\n" not in event.data
    assert event.data.isascii()
    data = json.loads(event.data)
    assert data == {
        "id": 7,
        "incident_id": 3,
        "seq": 4,
        "kind": "note",
        "at": "2026-11-22T10:00:00+00:00",
        "actor": "slack:U1",
        "text": "Note: a <b>\n\u2028line</b> & \U0001f525",
        "status": "triggered",
        "severity": "P1",
        "title": "incident 3",
        "service": "lnn-service",
    }
