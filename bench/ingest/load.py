"""Open-loop load generator for ``bench.ingest``: Alertmanager deliveries on a fixed schedule.

    python -m bench.ingest.load --port P --token T --prefix run1-sqlite-a --rate 200 --duration 10

It runs in a process of its own, on uvloop, with raw asyncio protocols and requests built
before the clock starts, because the previous in-process aiohttp client was itself the
bottleneck (about 1,000 req/s and 500 ms of p99 noise). Delivery ``i`` is due at
``start + i / rate`` whatever the server does; its latency counts from that due time until
the whole response has been read, so time spent waiting for a free connection behind a slow
server is charged to the server (no coordinated omission). Each request must finish within
``--timeout`` seconds of its due time, so the run ends by itself after at most the schedule
(``--count`` deliveries, else rate × duration) plus ``--timeout`` seconds.

What it sends (``bench/ingest/bodies.py``): by default single-alert groups, each a service of
its own; ``--service`` gives them all one service (a storm); ``--groups G --alerts A`` cycles
over G groups of A alerts each, so deliveries after the first G are Alertmanager's re-sends.

HTTP/1.1 keep-alive over a pool of ``--connections`` connections, one request in flight per
connection. Responses must carry ``Content-Length`` (aiohttp's always do); anything else is
counted as an error rather than guessed at.

The result is one line on stdout, ``INGEST_LOAD`` and a JSON object: scheduled, answered, acked (2xx), errors,
statuses, p50/p99/max ms over the acknowledged deliveries, elapsed seconds, the monotonic
time of the first due send (``time.monotonic`` is system-wide on Linux, so the parent can
compare it with its own clock), and the largest launch lag, which shows whether this process
kept its own schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import uvloop

from bench.ingest.bodies import ALERTNAME, delivery_body, group_body

WEBHOOK_PATH = "/webhooks/alertmanager"
# Leaves time to enter the schedule loop before the first delivery is due.
START_DELAY_S = 0.05
# A response head larger than this is not aiohttp talking: stop reading instead of buffering.
MAX_HEAD_BYTES = 64 * 1024
ERROR_DETAIL_CHARS = 300
MAX_DELIVERIES = 1_000_000
RESULT_MARKER = "INGEST_LOAD "


def build_request(host: str, port: int, token: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 keep-alive POST, ready to write as it is."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


# ---------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client: exactly what an aiohttp server answers, nothing more
# ---------------------------------------------------------------------------------------------


class ProtocolError(Exception):
    """The server's bytes are not a response this client can frame safely."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    size: int
    keep_alive: bool
    body_start: bytes


def _header_fields(lines: Sequence[str]) -> dict[str, str]:
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def parse_response(buffer: bytearray) -> Response | None:
    """The first complete response in ``buffer``, or ``None`` while it is still arriving."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise ProtocolError("response head too large")
        return None
    status_line, *lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"bad status line {status_line[:80]!r}")
    status = int(code)
    fields = _header_fields(lines)
    if "transfer-encoding" in fields:
        raise ProtocolError("Transfer-Encoding responses are not supported")
    if "content-length" in fields:
        length = int(fields["content-length"])
    elif status in (204, 304):
        length = 0
    else:
        raise ProtocolError(f"HTTP {status} without Content-Length")
    size = end + 4 + length
    if len(buffer) < size:
        return None
    keep_alive = fields.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    body_start = bytes(buffer[end + 4 : min(size, end + 4 + ERROR_DETAIL_CHARS)])
    return Response(status, size, keep_alive, body_start)


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport has the Transport interface without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            response = parse_response(self._buffer)
        except (ProtocolError, ValueError) as exc:
            waiter.set_exception(ProtocolError(str(exc)))
            return
        if response is not None:
            del self._buffer[: response.size]
            waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection closed by the server: {exc}"))

    async def exchange(self, request: bytes) -> Response:
        """Write ``request`` and wait for its whole response."""
        if self._transport is None or self.closed:
            raise ConnectionError("connection is closed")
        if self._buffer:
            # Bytes nobody asked for: the stream is out of step, so no answer can be trusted.
            raise ProtocolError("unsolicited bytes from the server")
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        response = await self._waiter
        if not response.keep_alive:
            self.abort()
        return response

    def abort(self) -> None:
        """Drop the connection; its state is unknown after a timeout or a protocol error."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


class Pool:
    """Keep-alive connections, most recently used first so light load stays on warm sockets.

    A broken connection goes back into the pool closed and is re-opened by its next user."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(Connection, self._host, self._port)
        return protocol

    async def open(self, size: int) -> None:
        """Connect before the clock starts: handshakes are not what is being measured."""
        for connection in await asyncio.gather(*(self._connect() for _ in range(size))):
            self._idle.put_nowait(connection)

    async def exchange(self, request: bytes) -> Response:
        connection = await self._idle.get()
        try:
            if connection.closed:
                connection = await self._connect()
            return await connection.exchange(request)
        except BaseException:
            connection.abort()
            raise
        finally:
            self._idle.put_nowait(connection)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().abort()


# ---------------------------------------------------------------------------------------------
# The schedule
# ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What happened to the scheduled deliveries."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    first_error: str = ""
    last_done: float = 0.0
    max_lag_s: float = 0.0

    def answered(self, status: int, due: float, now: float, body: bytes) -> None:
        self.statuses[status] += 1
        self.last_done = max(self.last_done, now)
        if 200 <= status < 300:
            self.latencies_s.append(now - due)
        elif not self.first_error:
            self.first_error = f"HTTP {status}: {body.decode(errors='replace')}"

    def failed(self, kind: str, detail: str) -> None:
        self.failures[kind] += 1
        if not self.first_error:
            self.first_error = f"{kind}: {detail}"[:ERROR_DETAIL_CHARS]


async def send_one(pool: Pool, request: bytes, due: float, timeout_s: float, tally: Tally) -> None:
    """Send one delivery and record its fate; it must be answered ``timeout_s`` after ``due``."""
    try:
        async with asyncio.timeout(due + timeout_s - time.monotonic()):
            response = await pool.exchange(request)
    except TimeoutError:
        tally.failed("timeout", f"no answer {timeout_s:g} s after the due time")
    except (OSError, ProtocolError) as exc:
        tally.failed(type(exc).__name__, str(exc))
    else:
        tally.answered(response.status, due, time.monotonic(), response.body_start)


async def run_schedule(
    pool: Pool, requests: Sequence[bytes], rate: float, timeout_s: float
) -> tuple[Tally, float]:
    """Launch request ``i`` at ``start + i / rate`` without waiting for earlier answers."""
    tally = Tally()
    start = time.monotonic() + START_DELAY_S
    tasks = set()
    for index, request in enumerate(requests):
        due = start + index / rate
        delay = due - time.monotonic()
        # Yield even when late: otherwise a generator behind schedule would queue every task
        # before letting a single one send.
        await asyncio.sleep(max(0.0, delay))
        tally.max_lag_s = max(tally.max_lag_s, time.monotonic() - due)
        tasks.add(asyncio.create_task(send_one(pool, request, due, timeout_s, tally)))
    if tasks:
        # Every task times itself out; this bound only guards against a bug in that.
        _, unfinished = await asyncio.wait(tasks, timeout=timeout_s + 5)
        for task in unfinished:
            task.cancel()
            tally.failed("unfinished", "still running after the run's time bound")
    return tally, start


def percentile_ms(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile in ms; NaN without samples."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1] * 1000


def summary(tally: Tally, start: float, scheduled: int) -> dict[str, object]:
    latencies = sorted(tally.latencies_s)
    answered = sum(tally.statuses.values())
    acked = len(latencies)
    return {
        "scheduled": scheduled,
        "answered": answered,
        "acked": acked,
        "errors": scheduled - acked,
        "statuses": {str(code): n for code, n in sorted(tally.statuses.items())},
        "failures": dict(tally.failures),
        "first_error": tally.first_error,
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "max_ms": latencies[-1] * 1000 if latencies else math.nan,
        "elapsed_s": max(tally.last_done - start, 0.0),
        "start_monotonic": start,
        "max_lag_ms": tally.max_lag_s * 1000,
    }


def bodies(
    prefix: str,
    count: int,
    service: str | None,
    groups: int,
    alerts: int,
    alertname: str = ALERTNAME,
) -> list[bytes]:
    """Single-alert groups of their own (``groups`` 0), or ``count`` deliveries cycling over
    ``groups`` groups of ``alerts`` alerts each (a re-send is the same body again)."""
    if not groups:
        return [delivery_body(f"{prefix}-{i}", service, alertname) for i in range(count)]
    built = [group_body(f"{prefix}-g{g}", alerts, service) for g in range(min(groups, count))]
    return [built[i % len(built)] for i in range(count)]


async def generate(args: argparse.Namespace) -> dict[str, object]:
    count = args.count or max(1, round(args.rate * args.duration))
    requests = [
        build_request(args.host, args.port, args.token, body)
        for body in bodies(
            args.prefix, count, args.service, args.groups, args.alerts, args.alertname
        )
    ]
    pool = Pool(args.host, args.port)
    try:
        await asyncio.wait_for(pool.open(args.connections), timeout=30)
        tally, start = await run_schedule(pool, requests, args.rate, args.timeout)
    finally:
        pool.close()
    return summary(tally, start, count)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True, help="the webhook's bearer token")
    parser.add_argument("--prefix", required=True, help="makes group keys unique to this run")
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of schedule")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds after due time")
    parser.add_argument("--count", type=int, default=0, help="deliveries (else rate × duration)")
    parser.add_argument("--service", help="one service label for all (else one per group)")
    parser.add_argument("--alertname", default=ALERTNAME, help="of single-alert groups")
    parser.add_argument("--groups", type=int, default=0, help="cycle over this many groups")
    parser.add_argument("--alerts", type=int, default=1, help="alerts per group (with --groups)")
    args = parser.parse_args(argv)
    if min(args.count, args.groups) < 0 or args.alerts < 1:
        parser.error("--count and --groups must not be negative, --alerts must be positive")
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1 or args.timeout <= 0:
        parser.error("--rate, --duration, --connections and --timeout must be positive")
    if max(args.count, args.rate * args.duration) > MAX_DELIVERIES:
        parser.error(f"at most {MAX_DELIVERIES} deliveries per run")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    result = uvloop.run(generate(args))
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
