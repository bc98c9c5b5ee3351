"""One client following the live feed: its bounded queue, and what it has been sent."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.services.live.events import LiveEvent

log = logging.getLogger("firebreak.live")

# Seconds a write may wait on its client once the process is stopping (the stream's end, or a
# page read just before): short, since shutdown waits for it.
SHUTDOWN_WRITE = 1.0


class Beat(enum.Enum):
    """Nothing happened for a while: the stream writes a comment so proxies keep it open."""

    BEAT = "beat"


BEAT = Beat.BEAT


class Ended(enum.StrEnum):
    """Why a subscription ended."""

    SLOW = "slow"  # its queue filled: the client did not keep up
    GONE = "gone"  # the client closed the connection
    SHUTDOWN = "shutdown"  # the process is stopping


class Subscription:
    """A stream's place in the feed.

    ``start`` is the feed's position when it subscribed: what it must catch up on is in the
    database up to ``start``, and everything after reaches its queue. ``after`` is the last
    id the client has (or said it has), so nothing at or below it is handed out twice.
    The feed ``offer``s it events (refused when ``capacity`` are waiting: the feed then ends
    it as slow and calls ``disconnect``, which closes the connection), heartbeats and its
    end, and ends it once ``connected`` says its client left (a stream writes only when
    something happens, so a closed connection would otherwise hold its place until the next
    heartbeat); the stream takes them with ``next``, and writes each through ``write``, so a
    client that stops reading cannot hold its handler (or a shutdown) for long."""

    def __init__(
        self,
        *,
        start: int,
        after: int,
        incident_id: int | None,
        capacity: int,
        connected: Callable[[], bool],
        disconnect: Callable[[], None],
    ) -> None:
        self.start = start
        self.after = after
        self.incident_id = incident_id
        self.ended: Ended | None = None
        # False when the catch-up stopped at its bound before ``start``: the stream ends
        # after it, and its client reconnects from the last id it got.
        self.caught_up = True
        self._capacity = capacity
        self.connected = connected
        self._disconnect = disconnect
        self._queue: deque[LiveEvent] = deque()
        self._signal = asyncio.Event()
        self._beat = False
        self._writing = False

    @property
    def queued(self) -> int:
        return len(self._queue)

    def wants(self, event: LiveEvent) -> bool:
        return self.incident_id is None or event.incident_id == self.incident_id

    def offer(self, event: LiveEvent) -> bool:
        """Queue ``event``; ``False`` when the queue is full."""
        if len(self._queue) >= self._capacity:
            return False
        self._queue.append(event)
        self._signal.set()
        return True

    def beat(self) -> None:
        self._beat = True
        self._signal.set()

    def end(self, why: Ended) -> None:
        """End the subscription; a slow one, and one whose stream is writing when the process
        stops, has its connection closed at once (its stream may be stuck writing to a client
        that does not read: aiohttp's graceful shutdown would wait for it, then its cancel
        does not reach the write)."""
        if self.ended is not None:
            return
        self.ended = why
        self._queue.clear()
        self._signal.set()
        if why is Ended.SLOW or (why is Ended.SHUTDOWN and self._writing):
            self._disconnect()

    async def write(self, send: Callable[[], Awaitable[object]], *, within: float) -> None:
        """Run ``send`` (one write to the client). One the client has not taken within
        ``within`` seconds (``SHUTDOWN_WRITE`` once shutting down) has its connection closed:
        ``ConnectionResetError``."""
        if self.ended is Ended.SHUTDOWN:
            within = min(within, SHUTDOWN_WRITE)
        self._writing = True
        try:
            async with asyncio.timeout(within):
                await send()
        except TimeoutError:
            log.info("live event stream ended: its client read nothing for %gs", within)
            self._disconnect()
            raise ConnectionResetError(f"the client read nothing for {within:g}s") from None
        finally:
            self._writing = False

    def sent(self, event_id: int) -> None:
        """The client has ``event_id`` (written by the catch-up)."""
        self.after = max(self.after, event_id)

    async def next(self) -> LiveEvent | Beat | None:
        """The next event past ``after``, else a heartbeat when one is due, else wait;
        ``None`` once ended."""
        while True:
            if self.ended is not None:
                return None
            while self._queue:
                event = self._queue.popleft()
                if event.id > self.after:
                    self.after = event.id
                    return event
            if self._beat:
                self._beat = False
                return BEAT
            self._signal.clear()
            await self._signal.wait()
