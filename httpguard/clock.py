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


class RequestClock:
    """One connection's deadline. Idle between requests (keep-alive is not slowness: the
    server's keep-alive timeout handles it), running while a head or a body is awaited.

    The timer is re-armed lazily: a body's progress only moves the deadline when the timer
    fires, so receiving data costs no timer operations."""

    __slots__ = (
        "_body_received",
        "_body_started",
        "_handle",
        "_limits",
        "_loop",
        "_on_cut",
        "head_started",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: Limits,
        on_cut: Callable[[Cut], None],
    ) -> None:
        self._loop = loop
        self._limits = limits
        self._on_cut = on_cut
        self._handle: asyncio.TimerHandle | None = None
        self._body_received: Callable[[], int] | None = None
        self._body_started = 0.0
        self.head_started = 0.0  # loop time of the awaited head's first byte

    @property
    def awaiting_head(self) -> bool:
        return self._handle is not None and self._body_received is None

    @property
    def awaiting_body(self) -> bool:
        return self._body_received is not None

    def now(self) -> float:
        return self._loop.time()

    def head(self, started: float | None = None) -> None:
        """Start waiting for a head whose first byte came at ``started`` (default: now)."""
        self.stop()
        begun = self._loop.time() if started is None else started
        self.head_started = begun
        self._handle = self._loop.call_at(begun + self._limits.head_timeout, self._head_expired)

    def body(self, received: Callable[[], int]) -> None:
        """The head is complete; start the body's rate floor. ``received`` counts its bytes."""
        self.stop()
        self._body_received = received
        self._body_started = self._loop.time()
        self._handle = self._loop.call_at(
            self._body_started + self._limits.body_grace, self._body_check
        )

    def stop(self) -> None:
        """Nothing is awaited (between requests, or the connection is gone)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._body_received = None

    def _head_expired(self) -> None:
        self._handle = None
        self._on_cut(Cut.HEAD)

    def _body_check(self) -> None:
        self._handle = None
        received = self._body_received
        if received is None:
            return
        limits = self._limits
        deadline = self._body_started + limits.body_grace + received() / limits.body_min_rate
        if self._loop.time() >= deadline:
            self._body_received = None
            self._on_cut(Cut.BODY)
        else:
            self._handle = self._loop.call_at(deadline, self._body_check)


def log_cut(transport: asyncio.BaseTransport, reason: Cut) -> None:
    """The one line a cut connection leaves (not an error: the client is at fault)."""
    peer = transport.get_extra_info("peername")
    where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
    log.info("closed a slow client %s: request %s too slow", where, reason.value)
