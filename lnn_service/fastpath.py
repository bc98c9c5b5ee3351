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


_REQUEST_LINE = b"POST /inference HTTP/1.1\r\n"
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close[ \t]*\r\n")


def _inspect(head: bytes) -> tuple[int, bool] | None:
    """``(content length, close)`` of a request head the fast path serves, else None.

    ``head`` ends with CRLF after its last header line. Searching the lower-cased
    head with ``bytes.find`` costs a fraction of a per-line loop in Python.
    """
    if not head.startswith(_REQUEST_LINE):
        return None
    low = head.lower()
    if b"\r\ntransfer-encoding:" in low or b"\r\nexpect:" in low:
        return None
    at = low.find(b"\r\ncontent-length:")
    if at < 0 or low.find(b"\r\ncontent-length:", at + 1) >= 0:
        return None
    value = low[at + 17 : low.find(b"\r\n", at + 17)].strip()
    if not value.isdigit():
        return None
    close = b"\r\nconnection:" in low and _CLOSE.search(low) is not None
    return int(value), close


class _Slot:
    __slots__ = ("close", "data")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close = False


class FastProtocol(asyncio.Protocol):
    def __init__(self, service: Service, fallback: Callable[[], asyncio.Protocol]) -> None:
        self._service = service
        self._fallback = fallback
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

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._slots.clear()

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
        while self._buf and not self._handoff and not self._closing:
            if self._write_full:
                return
            if len(self._slots) >= MAX_PIPELINE:
                self._pipeline_full = True
                self._update_reading()
                return
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._hand_over()  # let aiohttp produce its own 431/400
                return
            info = _inspect(bytes(self._buf[: end + 2]))
            if info is None:
                self._hand_over()
                return
            length, close = info
            if length > MAX_BODY:
                slot = self._new_slot()
                self._closing = True
                exc = BatchTooLarge(
                    f"body of {length} bytes is over {MAX_BODY}; use /inference/batch"
                )
                self._finish(slot, 413, error_body(exc), True, None)
                return
            total = end + 4 + length
            if len(self._buf) < total:
                return
            body = bytes(self._buf[end + 4 : total])
            del self._buf[:total]
            self._request(body, close)
            if close:
                self._closing = True

    def _new_slot(self) -> _Slot:
        slot = _Slot()
        self._slots.append(slot)
        return slot

    def _hand_over(self) -> None:
        self._handoff = True
        if not self._slots:
            self._switch()

    def _switch(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._reading_paused:  # aiohttp's protocol would never resume our pause
            self._reading_paused = False
            transport.resume_reading()
        protocol = self._fallback()
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
