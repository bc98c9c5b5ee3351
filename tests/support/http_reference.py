"""Both sides of the fast path's differential test: h11's reading of a byte stream, and the
fast path's, driven over a recording transport.

h11 (strict, pure Python, well kept) is the reference: where it says each request ends is
where the fast path must say so too, for every request the fast path answers itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11

from httpguard.clock import Limits, Sweeper
from lnn_service.fastpath import FastProtocol
from lnn_service.service import Service

# No slow-client cut may interfere with a differential run.
NO_CUTS = Limits(head_timeout=3600.0, body_min_rate=1.0, body_grace=3600.0)


@dataclass(frozen=True)
class H11Request:
    end: int  # offset in the stream just past the request's body
    method: bytes
    target: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


@dataclass
class H11Reading:
    requests: list[H11Request]
    stopped: str  # "incomplete", "invalid", "close" or "paused"


def h11_read(stream: bytes) -> H11Reading:
    """Every request h11 completes in ``stream``, answering each with a 200 as a server
    would, until it needs more data, finds the stream invalid, or must close."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(stream)
    requests: list[H11Request] = []
    current: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event: Any = conn.next_event()
        except h11.RemoteProtocolError:
            return H11Reading(requests, "invalid")
        if event is h11.NEED_DATA:
            return H11Reading(requests, "incomplete")
        if event is h11.PAUSED:
            return H11Reading(requests, "paused")
        if isinstance(event, h11.Request):
            current, body = event, bytearray()
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert current is not None
            end = len(stream) - len(conn.trailing_data[0])
            requests.append(
                H11Request(
                    end=end,
                    method=current.method,
                    target=current.target,
                    http_version=current.http_version,
                    headers=list(current.headers),
                    body=bytes(body),
                    keep_alive=conn.their_state is h11.DONE and _keeps_alive(current),
                )
            )
            if not _keeps_alive(current):
                return H11Reading(requests, "close")
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return H11Reading(requests, "close")
            conn.start_next_cycle()
        else:  # ConnectionClosed cannot come: no end of stream is fed
            raise AssertionError(f"unexpected h11 event {event!r}")


def _keeps_alive(request: h11.Request) -> bool:
    tokens = [
        token.strip().lower()
        for name, value in request.headers
        if name == b"connection"
        for token in value.split(b",")
    ]
    return request.http_version == b"1.1" and b"close" not in tokens


class RecordingTransport(asyncio.Transport):
    """Keeps what the fast path writes and whether it closed or handed the connection on."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.protocol: asyncio.BaseProtocol | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


class HandedOver(asyncio.Protocol):
    """Stands for aiohttp's protocol: records the bytes the fast path hands over."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connected = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected = True

    def data_received(self, data: bytes) -> None:
        self.received += data


@dataclass
class FastReading:
    statuses: list[int]
    closed: bool
    handed_over: bytes | None  # None: not handed over
    buffered: bytes  # what the fast path still holds, waiting for more


async def fast_read(service: Service, chunks: list[bytes]) -> FastReading:
    """Feed ``chunks`` to a fresh :class:`FastProtocol` one ``data_received`` at a time, let
    every answer it owes be written, and report what it did."""
    handed: list[HandedOver] = []

    def fallback(_head_started: float | None) -> asyncio.Protocol:
        protocol = HandedOver()
        handed.append(protocol)
        return protocol

    transport = RecordingTransport()
    fast = FastProtocol(service, fallback, Sweeper(asyncio.get_running_loop(), NO_CUTS))
    transport.set_protocol(fast)
    fast.connection_made(transport)
    for chunk in chunks:
        receiver = transport.get_protocol()
        if transport.closed:
            break
        assert isinstance(receiver, asyncio.Protocol)
        receiver.data_received(chunk)
        await _settle(transport)
    await _settle(transport)
    buffered = fast.unread
    fast.connection_lost(None)
    assert len(handed) <= 1
    if handed:
        assert handed[0].connected
    return FastReading(
        statuses=_statuses(bytes(transport.written)),
        closed=transport.closed,
        handed_over=bytes(handed[0].received) if handed else None,
        buffered=buffered,
    )


async def _settle(transport: RecordingTransport) -> None:
    """Run the loop until the fast path has written everything it owes (the micro-batcher
    flushes with ``call_soon``, so a few turns do)."""
    seen, quiet = -1, 0
    for _ in range(200):
        await asyncio.sleep(0)
        if len(transport.written) == seen:
            quiet += 1
            if quiet >= 5:
                return
        else:
            seen, quiet = len(transport.written), 0
    raise AssertionError("the fast path kept writing")


def _statuses(written: bytes) -> list[int]:
    """The status of each response in ``written`` (the fast path always sends a length)."""
    statuses: list[int] = []
    rest = written
    while rest:
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/inference", headers=[("Host", "x")]))
        client.receive_data(rest)
        event: Any = client.next_event()
        assert isinstance(event, h11.Response), (event, rest[:200])
        statuses.append(event.status_code)
        while not isinstance(event, h11.EndOfMessage):
            event = client.next_event()
            assert event is not h11.NEED_DATA, rest[:200]
        rest = client.trailing_data[0]
    return statuses
