"""The live feed: one poller per process reads the timeline in id order and fans each new entry
out to the streams that follow it.

The timeline is what every replica commits, so a replica's streams see every change, whoever
made it: the poller reads it every ``poll`` seconds and at once after this process's own
commits (``wake``). It never passes an id that may still commit (``CommitOrder``). Each stream
has a bounded queue; one whose queue fills is ended (its connection closed) rather than
slowing the poller or the others: its client reconnects with the last id it has and catches
up from the database.

A stream subscribes (synchronously, so between two rounds of the poller: nothing is
published twice or lost in between), catches up from the database on the ids it missed up to
the feed's position then (at most ``catch_up`` of them; then its client reconnects for the
rest), and takes the live events after that position from its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import Overloaded, StorageUnavailable
from bot.ports.live import TimelineFeed
from bot.services.live.events import LiveEvent, live_event
from bot.services.live.order import CommitOrder
from bot.services.live.subscription import Ended, Subscription
from bot.workers import Pacing, Worker

log = logging.getLogger("firebreak.live")

# Entries read per page of a catch-up: what one stream holds in memory at a time.
CATCH_UP_PAGE = 200


@dataclass(frozen=True, slots=True)
class LiveLimits:
    """Seconds and counts. ``poll``: between reads nothing woke; ``max_streams``: streams at
    once in this process (more get 503 with ``retry_after``); ``queue``: events waiting for one
    stream before it is ended as slow; ``heartbeat``: between comments on a quiet stream;
    ``batch``: entries per read (and how far back the first read looks for ids still being
    committed); ``catch_up``: events a connection catches up on before it must reconnect."""

    poll: float = 0.5
    max_streams: int = 500
    queue: int = 1000
    heartbeat: float = 15.0
    batch: int = 500
    catch_up: int = 1000
    retry_after: float = 5.0


class LiveFeed:
    """See the module docstring. ``start`` reads the timeline's head before the app serves;
    ``close_all`` ends every stream (shutdown: aiohttp waits for handlers before cleanup)."""

    def __init__(
        self, source: TimelineFeed, clock: Clock, *, limits: LiveLimits | None = None
    ) -> None:
        self._source = source
        self._clock = clock
        self.limits = limits = limits or LiveLimits()
        self._order: CommitOrder | None = None
        self._subscriptions: set[Subscription] = set()
        self._closing = False
        self._last_beat: datetime | None = None
        # One round at a time: a test's drain and the loop must not both publish a read.
        self._round = asyncio.Lock()
        self._worker = Worker(
            "live feed",
            self._step,
            clock=clock,
            # Retries every few seconds while the database is down, so heartbeats go on; a
            # read in flight when the app stops finishes (milliseconds) rather than being
            # cancelled while its connection goes back to the pool.
            pacing=Pacing(
                poll=limits.poll, backoff_cap=min(5.0, limits.heartbeat), stop_timeout=5.0
            ),
            transient=(StorageUnavailable,),
        )

    @property
    def position(self) -> int | None:
        """The last id every stream of this process has been handed (``None`` before the
        first read). A page that wants the events after what it rendered reads this before
        it reads what it renders, and subscribes with ``after`` = this."""
        return self._order.cursor if self._order is not None else None

    @property
    def streams(self) -> int:
        return len(self._subscriptions)

    async def start(self) -> None:
        try:
            await self._step()
        except StorageUnavailable as exc:
            log.warning("live feed: %s; streams open once the timeline can be read", exc)
        await self._worker.start()

    async def stop(self) -> None:
        self.close_all()
        await self._worker.stop()

    def wake(self) -> None:
        """This process committed timeline entries: read now."""
        self._worker.wake()

    async def drain(self) -> int:
        """Read until nothing more is ready now (tests)."""
        return await self._worker.drain()

    def close_all(self) -> None:
        """End every stream and refuse new ones."""
        self._closing = True
        for subscription in self._subscriptions:
            subscription.end(Ended.SHUTDOWN)
        self._subscriptions.clear()

    def subscribe(
        self,
        *,
        after: int | None,
        incident_id: int | None,
        connected: Callable[[], bool],
        disconnect: Callable[[], None],
    ) -> Subscription:
        """A new stream, from ``after`` (the last id its client has; ``None``: only what
        happens from now on); ``connected`` and ``disconnect`` are its connection's (see
        ``Subscription``). ``Overloaded`` beyond ``max_streams`` or while shutting down."""
        if self._closing:
            raise Overloaded("firebreak is shutting down", retry_after=self.limits.retry_after)
        if self._order is None:
            raise StorageUnavailable("the live feed has not read the timeline yet")
        if len(self._subscriptions) >= self.limits.max_streams:
            raise Overloaded(
                f"this firebreak serves {self.limits.max_streams} event streams already",
                retry_after=self.limits.retry_after,
            )
        start = self._order.cursor
        subscription = Subscription(
            start=start,
            after=start if after is None else after,
            incident_id=incident_id,
            capacity=self.limits.queue,
            connected=connected,
            disconnect=disconnect,
        )
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def catch_up(self, subscription: Subscription) -> AsyncGenerator[list[LiveEvent], None]:
        """Pages of the events ``subscription`` missed, up to its ``start``: at most
        ``catch_up`` events in all (``caught_up`` says whether that was everything). An
        ``after`` past every id the database holds (a database replaced since) counts from
        its newest id."""
        if subscription.after >= subscription.start:
            if subscription.after > subscription.start:
                head = await self._source.head()
                subscription.after = min(subscription.after, head)
            return
        left = self.limits.catch_up
        after = subscription.after
        while after < subscription.start:
            if subscription.ended is not None:
                # Shut down (or cut off) meanwhile: the rest would never be written.
                return
            if left == 0:
                subscription.caught_up = False
                return
            read = await self._source.read(
                after,
                limit=min(CATCH_UP_PAGE, left),
                upto=subscription.start,
                incident_id=subscription.incident_id,
            )
            if not read.entries:
                return
            events = [live_event(item) for item in read.entries]
            left -= len(events)
            after = events[-1].id
            yield events

    async def _step(self) -> bool:
        async with self._round:
            return await self._round_once()

    async def _round_once(self) -> bool:
        self._forget_gone()
        now = self._clock.now()
        if self._last_beat is None or now - self._last_beat >= timedelta(
            seconds=self.limits.heartbeat
        ):
            if self._last_beat is not None:
                for subscription in self._subscriptions:
                    subscription.beat()
            self._last_beat = now
        if self._order is None:
            head = await self._source.head()
            # Ids just below the head may belong to transactions still committing.
            self._order = CommitOrder(max(0, head - self.limits.batch))
        order = self._order
        before, batch = order.cursor, self.limits.batch
        if not self._subscriptions:
            # Nobody to send entries to: keeping the place takes the ids alone.
            found = await self._source.ids(before, limit=batch)
            if self._subscriptions:
                # A stream subscribed during the read, at the old position: what this read
                # found must reach it, so read again with the entries.
                return True
            order.advance(found.ids, found.horizon, self._clock.now())
            return len(found.ids) == batch and not order.holding
        read = await self._source.read(before, limit=batch)
        order.advance([item.id for item in read.entries], read.horizon, self._clock.now())
        settled = [item for item in read.entries if before < item.id <= order.cursor]
        if settled:
            self._publish([live_event(item) for item in settled])
        return len(read.entries) == batch and not order.holding

    def _forget_gone(self) -> None:
        gone = [s for s in self._subscriptions if not s.connected()]
        for subscription in gone:
            self._subscriptions.discard(subscription)
            subscription.end(Ended.GONE)

    def _publish(self, events: list[LiveEvent]) -> None:
        for subscription in list(self._subscriptions):
            for event in events:
                if subscription.wants(event) and not subscription.offer(event):
                    self._subscriptions.discard(subscription)
                    log.info(
                        "live event stream ended: its client fell %d events behind (it"
                        " reconnects and catches up from the database)",
                        subscription.queued,
                    )
                    subscription.end(Ended.SLOW)
                    break
