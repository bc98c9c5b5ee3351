"""``LiveFeed`` against an in-memory timeline: one read fans out to every stream, a stream
that falls behind is ended without holding back the others, catch-up is bounded, and the
clock (not the wall) decides heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace

import pytest

from bot.clock import FixedClock
from bot.errors import Overloaded, StorageUnavailable
from bot.services.live.events import LiveEvent, live_event
from bot.services.live.feed import CATCH_UP_PAGE, LiveFeed, LiveLimits
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


async def test_a_stream_that_subscribes_while_nobody_followed_gets_what_that_read_found(
    feed: LiveFeed, source: MemoryTimelineFeed
) -> None:
    # With nobody following, a round reads ids alone; a stream subscribing during that read
    # starts at the old position, so the round must not move past entries it cannot send.
    commit(source, 1, 2)
    joined: list[Subscription] = []
    source.meanwhile = lambda: joined.append(follow(feed)[0])
    await feed.drain()
    assert await queued(joined[0]) == [1, 2]


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


async def test_a_catch_up_stops_reading_once_the_process_shuts_down(
    source: MemoryTimelineFeed, clock: FixedClock
) -> None:
    feed = LiveFeed(source, clock)
    commit(source, *range(1, CATCH_UP_PAGE * 2 + 1))
    await feed.start()
    try:
        subscription, _ = follow(feed, after=0)
        async with aclosing(feed.catch_up(subscription)) as pages:
            first = await anext(pages)
            assert len(first) == CATCH_UP_PAGE
            feed.close_all()
            assert await anext(pages, None) is None
    finally:
        await feed.stop()


async def test_a_write_the_client_does_not_take_in_time_cuts_its_connection(
    feed: LiveFeed,
) -> None:
    subscription, connection = follow(feed)
    never = asyncio.Event()
    with pytest.raises(ConnectionResetError):
        await subscription.write(never.wait, within=0.01)
    assert connection.cut


async def test_shutting_down_cuts_a_stream_that_is_writing_and_ends_an_idle_one_cleanly(
    feed: LiveFeed,
) -> None:
    writing, writing_connection = follow(feed)
    idle, idle_connection = follow(feed)
    never = asyncio.Event()
    write = asyncio.create_task(writing.write(never.wait, within=3600))
    await asyncio.sleep(0)  # the write starts waiting on its client
    feed.close_all()
    assert writing_connection.cut
    assert not idle_connection.cut
    assert await idle.next() is None
    # The cut is what ends a real write (its transport closes under it).
    write.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await write


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


async def test_an_entry_without_words_goes_out_with_its_kind_and_the_feed_goes_on(
    feed: LiveFeed, source: MemoryTimelineFeed, caplog: pytest.LogCaptureFixture
) -> None:
    # A stored body the sentence cannot be made from (written by an older version, say).
    odd = feed_entry(1, at=T0)
    odd = replace(odd, entry=replace(odd.entry, kind="escalation.fired", body={"level": "x"}))
    subscription, _ = follow(feed)
    source.commit(odd)
    commit(source, 2)
    await feed.drain()
    texts = []
    for _ in range(2):
        event = await subscription.next()
        assert isinstance(event, LiveEvent)
        texts.append(json.loads(event.data)["text"])
    assert texts == ["escalation.fired", "Note: note 2"]
    assert "timeline entry 1: no sentence" in caplog.text


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
