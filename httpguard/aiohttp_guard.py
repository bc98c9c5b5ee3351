"""The clock in front of aiohttp's own server protocol.

Each connection's :class:`~aiohttp.web_protocol.RequestHandler` is wrapped in a protocol that
forwards everything to it and runs a :class:`~httpguard.clock.RequestClock`. aiohttp
announces a complete head by calling its server's ``request_factory``; :class:`Guards` wraps
that factory to stop the head clock there and start the body's rate floor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from httpguard.clock import Cut, Sweeper, cut


class BodyTooSlow(web.HTTPRequestTimeout, TimeoutError):
    """Set on the body of a request cut for slowness.

    A handler reading the body gets a 408 through aiohttp's HTTPException path (no traceback);
    aiohttp's own "lingering" read of a body its handler left unread ends quietly on a
    TimeoutError. Either way the connection is already closed."""


class GuardedConnection(asyncio.Protocol):
    """One connection: aiohttp's handler behind a head deadline and a body rate floor."""

    def __init__(
        self,
        inner: RequestHandler,
        sweeper: Sweeper,
        on_cut: Callable[[Cut], None],
        head_started: float | None = None,
        on_lost: Callable[[], object] = lambda: None,
    ) -> None:
        self.inner = inner
        self._on_lost = on_lost
        self._on_cut = on_cut
        self._head_started = head_started
        self._transport: asyncio.Transport | None = None
        self._payload: StreamReader | None = None
        self.clock = sweeper.clock(self._cut)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.clock.head(self._head_started)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._payload is None and not self.clock.awaiting_head:
            self.clock.head()  # the first byte of the next request
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        self.inner.eof_received()
        return None  # as aiohttp's handler: the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.clock.close()
        self._transport = None
        self._payload = None
        self._on_lost()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def head_done(self, payload: StreamReader) -> None:
        """aiohttp has parsed a request head; its body (if any) arrives through ``payload``."""
        if payload.is_eof():
            self.clock.stop()
            return
        self._payload = payload
        self.clock.body(lambda: payload.total_bytes)
        payload.on_eof(self._body_done)

    def _body_done(self) -> None:
        self._payload = None
        self.clock.stop()

    def _cut(self, reason: Cut) -> None:
        def settle() -> None:
            payload = self._payload
            if payload is not None and not payload.is_eof():
                payload.set_exception(BodyTooSlow())
            self._on_cut(reason)

        cut(self._transport, reason, settle)


class Guards:
    """Builds guarded connections for one aiohttp :class:`Server`.

    Install it before the first connection: each handler copies the server's request factory
    when it is created."""

    def __init__(self, server: Server, sweeper: Sweeper, on_cut: Callable[[Cut], None]) -> None:
        self._server = server
        self._sweeper = sweeper
        self._on_cut = on_cut
        self._open: dict[RequestHandler, GuardedConnection] = {}
        original = server.request_factory

        def factory(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> BaseRequest:
            guard = self._open.get(protocol)
            if guard is not None:
                guard.head_done(payload)
            return original(message, payload, protocol, writer, task)

        server.request_factory = factory

    def __call__(self, head_started: float | None = None) -> asyncio.Protocol:
        """A protocol for a new connection, or one handed over mid-request whose head began
        at ``head_started`` (loop time)."""
        inner = self._server()
        guard = GuardedConnection(
            inner, self._sweeper, self._on_cut, head_started, lambda: self._open.pop(inner, None)
        )
        self._open[inner] = guard
        return guard
