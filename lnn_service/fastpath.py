"""A thin HTTP/1.1 path for ``POST /inference``, in front of aiohttp on the same port.

Each connection starts on :class:`FastProtocol`. It parses only what a plain
JSON inference request needs (request line, Content-Length, Connection). The
first request it does not handle itself (another path or method, chunked bodies,
``Expect``, HTTP/1.0, anything odd) hands the connection over to aiohttp's own
protocol together with the unread bytes, once every earlier response has been
written; aiohttp then serves it with its full stack. Responses on a pipelined
connection go out in request order.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from typing import cast

import orjson

from httpguard.clock import Cut, Sweeper, cut
from lnn_service.batcher import Result
from lnn_service.errors import BatchTooLarge, LnnError, NotReady
from lnn_service.http_errors import REASONS, error_body, outcome_for, status_for
from lnn_service.parsing import SingleRequest, parse_single
from lnn_service.service import Service

MAX_HEAD = 8192
MAX_BODY = 65536
# A client pipelining faster than it reads gets its socket paused at this depth.
MAX_PIPELINE = 256
ENDPOINT = "/inference"
_OPTS = orjson.OPT_SERIALIZE_NUMPY


_OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "


def _response(status: int, body: bytes, close: bool) -> bytes:
    if status == 200 and not close:  # the hot case, kept to one bytes concatenation
        return b"%s%d\r\n\r\n%s" % (_OK_HEAD, len(body), body)
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


# The whole head, strictly: the one request line, then header lines of a token, a colon and a
# value of visible characters, spaces and tabs, each ended by CRLF. No obs-fold, no bare CR or
# LF, no space before the colon, no control characters: anything a lenient parser in front of
# us (or aiohttp behind) might read differently goes to aiohttp. Linear: no part overlaps.
_HEAD = re.compile(
    rb"POST /inference HTTP/1\.1\r\n(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*"
)

# Framing the fast path leaves to aiohttp. One search: ``in`` costs more per call than ``find``.
_UNSERVED = re.compile(rb"\r\n(?:transfer-encoding|expect|upgrade):")


def _value(low: bytes, at: int) -> bytes:
    """The value of the header line whose ``\\r\\nname:`` ends at ``at``."""
    return low[at : low.find(b"\r\n", at)].strip(b" \t")


def _inspect(head: bytes) -> tuple[int, bool] | None:
    """``(content length, close)`` of a request head the fast path serves, else None.

    ``head`` ends with CRLF after its last header line. A length over ``MAX_BODY`` is
    returned (to be refused with 413 and a close) as soon as the framing is unambiguous.
    Searching the lower-cased head with ``bytes.find`` costs a fraction of a per-line loop in
    Python; the grammar check makes every ``\\r\\nname:`` found the start of a header line.
    """
    if _HEAD.fullmatch(head) is None:
        return None
    low = head.lower()
    if _UNSERVED.search(low) is not None:
        return None
    at = low.find(b"\r\ncontent-length:")
    if at < 0 or low.find(b"\r\ncontent-length:", at + 1) >= 0:
        return None
    value = _value(low, at + 17)
    if not value.isdigit():
        return None
    # Python refuses to convert more than 4300 digits; anything past 18 is over the limit.
    length = int(value) if len(value) <= 18 else MAX_BODY + 1
    if length > MAX_BODY:
        return length, True
    # HTTP/1.1 requires exactly one Host (RFC 9112 3.2); without it aiohttp decides.
    if low.count(b"\r\nhost:") != 1:
        return None
    close = False
    at = low.find(b"\r\nconnection:")
    if at >= 0:
        if low.find(b"\r\nconnection:", at + 1) >= 0:
            return None
        option = _value(low, at + 13)
        if option == b"close":
            close = True
        elif option != b"keep-alive":
            return None
    return length, close


class _Slot:
    __slots__ = ("close", "data")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close = False


class FastProtocol(asyncio.Protocol):
    """One connection's fast path. ``fallback(head_started)`` builds the protocol it hands
    over to; the head it has not finished reading began at ``head_started`` (loop time), so
    the slow-client clock goes on from there rather than from the hand-over."""

    def __init__(
        self,
        service: Service,
        fallback: Callable[[float | None], asyncio.Protocol],
        sweeper: Sweeper,
    ) -> None:
        self._service = service
        self._fallback = fallback
        self._clock = sweeper.clock(self._cut)
        self._handoff_head: float | None = None
        self._body_at = 0  # where the awaited body starts in the buffer
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._slots: deque[_Slot] = deque()
        self._handoff = False  # waiting for earlier responses before handing over
        self._closing = False
        # Reading pauses while the client does not read its answers (write buffer
        # full) or has too many requests in flight; it resumes when neither holds.
        self._write_full = False
        self._pipeline_full = False
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._clock.head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clock.close()
        self._transport = None
        self._slots.clear()

    def _cut(self, reason: Cut) -> None:
        def settle() -> None:
            self._service.stats.connections_cut[reason.value] += 1
            self._closing = True
            self._transport = None
            self._slots.clear()

        cut(self._transport, reason, settle)

    @property
    def unread(self) -> bytes:
        """Bytes received and neither served nor handed over yet."""
        return bytes(self._buf)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._handoff and not self._closing:
            self._parse()

    def pause_writing(self) -> None:
        self._write_full = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_full = False
        self._update_reading()
        self._parse()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None:
            return
        pause = self._write_full or self._pipeline_full
        if pause and not self._reading_paused:
            transport.pause_reading()
            self._reading_paused = True
        elif not pause and self._reading_paused:
            transport.resume_reading()
            self._reading_paused = False

    # -- parsing -------------------------------------------------------------
    def _parse(self) -> None:
        clock = self._clock
        while self._buf and not self._handoff and not self._closing:
            if self._write_full:
                # The client is not reading our answers, so it is not asked to hurry with
                # the next request. Such a reader is bounded by the write buffer's pause of
                # reading (nothing more is parsed), not by a timeout: there is none for it.
                clock.stop()
                return
            if len(self._slots) >= MAX_PIPELINE:
                clock.stop()
                self._pipeline_full = True
                self._update_reading()
                return
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._hand_over()  # let aiohttp produce its own 431/400
                elif not clock.awaiting_head:
                    clock.head()
                return
            if end + 4 > MAX_HEAD:
                # Whole in one segment but over the bound the fast path promises: aiohttp
                # applies its own limits to it (and answers what they say).
                self._hand_over()
                return
            info = _inspect(bytes(self._buf[: end + 2]))
            if info is None:
                self._hand_over()
                return
            length, close = info
            if length > MAX_BODY:
                clock.stop()
                slot = self._new_slot()
                self._closing = True
                exc = BatchTooLarge(
                    f"body of {length} bytes is over {MAX_BODY}; use /inference/batch"
                )
                self._finish(slot, 413, error_body(exc), True, None)
                return
            total = end + 4 + length
            if len(self._buf) < total:
                if not clock.awaiting_body:
                    self._body_at = end + 4
                    clock.body(self._body_received)
                return
            clock.stop()
            body = bytes(self._buf[end + 4 : total])
            del self._buf[:total]
            self._request(body, close)
            if close:
                self._closing = True

    def _body_received(self) -> int:
        return len(self._buf) - self._body_at

    def _new_slot(self) -> _Slot:
        slot = _Slot()
        self._slots.append(slot)
        return slot

    def _hand_over(self) -> None:
        self._handoff = True
        clock = self._clock
        # A complete head is parsed at once by aiohttp; an incomplete one keeps its start.
        self._handoff_head = clock.head_started if clock.awaiting_head else None
        clock.stop()
        if not self._slots:
            self._switch()

    def _switch(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._clock.close()  # the connection is the fallback's now, and so is its clock
        if self._reading_paused:  # aiohttp's protocol would never resume our pause
            self._reading_paused = False
            transport.resume_reading()
        protocol = self._fallback(self._handoff_head)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._buf:
            protocol.data_received(bytes(self._buf))
        self._buf.clear()
        self._transport = None

    # -- requests ------------------------------------------------------------
    def _request(self, body: bytes, close: bool) -> None:
        started = time.perf_counter()
        slot = self._new_slot()
        service = self._service
        model = service.model
        try:
            if model is None:
                raise NotReady("no model loaded")
            m = model.manifest
            req = parse_single(body, m.input_dim, m.state_dim, m.default_dt)
            faults = service.faults
            if faults.active:
                if faults.down:
                    raise NotReady("drill: the service is down")
                if faults.should_fail():
                    service.stats.errors["drill"] += 1
                    raise NotReady("drill: injected error")
                if faults.latency_ms:
                    asyncio.get_running_loop().call_later(
                        faults.latency_ms / 1000, self._submit, req, slot, close, started
                    )
                    return
        except LnnError as exc:
            self._finish(slot, status_for(exc), error_body(exc), close, started)
            return
        self._submit(req, slot, close, started)

    def _submit(self, req: SingleRequest, slot: _Slot, close: bool, started: float) -> None:
        def done(result: Result | LnnError) -> None:
            if isinstance(result, LnnError):
                self._finish(slot, status_for(result), error_body(result), close, started)
                return
            body = orjson.dumps(
                {
                    "output": result.output,
                    "state": result.state,
                    "model_version": result.model_version,
                },
                option=_OPTS,
            )
            self._finish(slot, 200, body, close, started)

        self._service.batcher.submit(req, done)

    def _finish(
        self, slot: _Slot, status: int, body: bytes, close: bool, started: float | None
    ) -> None:
        elapsed = 0.0 if started is None else time.perf_counter() - started
        self._service.stats.request_done(ENDPOINT, outcome_for(status), elapsed)
        slot.data = _response(status, body, close)
        slot.close = close
        transport = self._transport
        if transport is None:
            return
        while self._slots and self._slots[0].data is not None:
            head = self._slots.popleft()
            assert head.data is not None
            transport.write(head.data)
            if head.close:
                transport.close()
                self._transport = None
                self._slots.clear()
                return
        if self._handoff and not self._slots:
            self._switch()
        elif self._pipeline_full and len(self._slots) < MAX_PIPELINE // 2:
            self._pipeline_full = False
            self._update_reading()
            self._parse()
