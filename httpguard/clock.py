"""The per-connection clock: how long a request head may take, and how slowly a body may come."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger("httpguard")


@dataclass(frozen=True)
class Limits:
    """``head_timeout``: seconds from a request's first byte (a new connection's accept) to the
    end of its head. A body must then arrive at ``body_min_rate`` bytes/s after a grace of
    ``body_grace`` seconds: each byte received buys ``1 / body_min_rate`` seconds more."""

    head_timeout: float = 5.0
    body_min_rate: float = 1024.0
    body_grace: float = 5.0


class Cut(Enum):
    """Why a connection was closed; the label of the cut-connections counter."""

    HEAD = "head"
    BODY = "body"


class Sweeper:
    """Checks every connection's clock a few times per head timeout (at most every second).

    One timer for all connections: a timer per request (``call_at`` and ``cancel``) cost
    3-5 us on this machine, more than the fast path's whole parse, while setting a deadline
    costs a clock read. A cut therefore comes at most one tick after its bound."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.limits = limits
        self.tick = max(0.05, min(1.0, limits.head_timeout / 4))
        self._loop = loop
        self._clocks: set[RequestClock] = set()
        self._handle: asyncio.TimerHandle | None = None

    def clock(self, on_cut: Callable[[Cut], None]) -> RequestClock:
        """A stopped clock for a new connection; :meth:`RequestClock.close` it when it ends."""
        clock = RequestClock(self, on_cut)
        self._clocks.add(clock)
        if self._handle is None:
            self._handle = self._loop.call_later(self.tick, self._sweep)
        return clock

    def now(self) -> float:
        return self._loop.time()

    def forget(self, clock: RequestClock) -> None:
        self._clocks.discard(clock)

    def _sweep(self) -> None:
        now = self._loop.time()
        for clock in list(self._clocks):
            clock.check(now)
        self._handle = self._loop.call_later(self.tick, self._sweep) if self._clocks else None


class RequestClock:
    """One connection's deadline. Stopped between requests (keep-alive is not slowness: the
    server's keep-alive timeout handles it), running while a head or a body is awaited."""

    __slots__ = (
        "_body_received",
        "_body_started",
        "_deadline",
        "_on_cut",
        "_running",
        "_sweeper",
        "head_started",
    )

    def __init__(self, sweeper: Sweeper, on_cut: Callable[[Cut], None]) -> None:
        self._sweeper = sweeper
        self._on_cut = on_cut
        self._running = False
        self._deadline = 0.0
        self._body_received: Callable[[], int] | None = None
        self._body_started = 0.0
        self.head_started = 0.0  # loop time of the awaited head's first byte

    @property
    def awaiting_head(self) -> bool:
        return self._running and self._body_received is None

    @property
    def awaiting_body(self) -> bool:
        return self._running and self._body_received is not None

    def head(self, started: float | None = None) -> None:
        """Start waiting for a head whose first byte came at ``started`` (default: now)."""
        begun = self._sweeper.now() if started is None else started
        self.head_started = begun
        self._deadline = begun + self._sweeper.limits.head_timeout
        self._body_received = None
        self._running = True

    def body(self, received: Callable[[], int]) -> None:
        """The head is complete; start the body's rate floor. ``received`` counts its bytes."""
        self._body_started = self._sweeper.now()
        self._deadline = self._body_started + self._sweeper.limits.body_grace
        self._body_received = received
        self._running = True

    def stop(self) -> None:
        """Nothing is awaited (between requests)."""
        self._running = False
        self._body_received = None

    def close(self) -> None:
        """The connection has ended (or changed hands): the clock is never checked again."""
        self.stop()
        self._sweeper.forget(self)

    def check(self, now: float) -> None:
        """Cut the connection if what it awaits is overdue."""
        if not self._running or now < self._deadline:
            return
        received = self._body_received
        if received is not None:
            limits = self._sweeper.limits
            self._deadline = (
                self._body_started + limits.body_grace + received() / limits.body_min_rate
            )
            if now < self._deadline:
                return
        self.stop()
        self._on_cut(Cut.HEAD if received is None else Cut.BODY)


def log_cut(transport: asyncio.BaseTransport, reason: Cut) -> None:
    """The one line a cut connection leaves (not an error: the client is at fault)."""
    peer = transport.get_extra_info("peername")
    where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
    log.info("closed a slow client %s: request %s too slow", where, reason.value)


def cut(transport: asyncio.Transport | None, reason: Cut, settle: Callable[[], None]) -> None:
    """Close a slow client's connection now: log the cut, let its owner ``settle`` (fail the
    body being read, count the cut, forget the transport), then abort. A connection already
    closing is left alone."""
    if transport is None or transport.is_closing():
        return
    log_cut(transport, reason)
    settle()
    transport.abort()
