"""Slow clients and a measured stream of legitimate requests, over real loopback sockets.

Every loop here is bounded in count and in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
# The body bounds both servers' slow-client tests configure, and how many slow connections
# they open at once.
BODY_GRACE = 1.0
BODY_MIN_RATE = 1000.0
SLOW_CONNECTIONS = 200
SLACK = 3.0  # a slow, shared machine: the bound plus this is what the tests allow


async def trickle(
    port: int,
    data: bytes,
    *,
    interval: float,
    limit_s: float,
    prefix: bytes = b"",
    first_delay: float = 0.0,
    then: bytes = b"",
    opened: asyncio.Semaphore | None = None,
) -> float:
    """Send ``prefix`` at once, after ``first_delay`` ``then`` at once, then ``data`` one byte
    every ``interval`` seconds; return the seconds from connecting until the server closed the
    connection (``limit_s`` if it never did within that time, or ``data`` ran out first).
    ``opened`` is released once connected."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    if opened is not None:
        opened.release()
    closed = asyncio.ensure_future(_until_closed(reader))
    try:
        if prefix:
            writer.write(prefix)
        if first_delay:
            await asyncio.wait([closed], timeout=first_delay)
        if then:
            writer.write(then)
        for byte in data:
            if closed.done():
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            remaining = limit_s - (time.monotonic() - started)
            if remaining <= 0:
                break
            await asyncio.wait([closed], timeout=min(interval, remaining))
        remaining = limit_s - (time.monotonic() - started)
        if not closed.done() and remaining > 0:
            await asyncio.wait([closed], timeout=remaining)
        return time.monotonic() - started if closed.done() else limit_s
    finally:
        closed.cancel()
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Read (and drop) whatever the server sends until it closes or resets the connection."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass


@dataclass(frozen=True)
class Latencies:
    statuses: list[int]
    seconds: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def paced(send: Callable[[], Awaitable[int]], *, count: int, per_second: float) -> Latencies:
    """Call ``send`` ``count`` times at ``per_second`` (one after another, like a webhook
    sender on a keep-alive connection); each returns the HTTP status."""
    statuses: list[int] = []
    seconds: list[float] = []
    start = time.monotonic()
    for i in range(count):
        delay = start + i / per_second - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        began = time.perf_counter()
        statuses.append(await send())
        seconds.append(time.perf_counter() - began)
    return Latencies(statuses, seconds)


async def open_slow(
    count: int, port: int, data: bytes, *, interval: float, limit_s: float
) -> list[asyncio.Future[float]]:
    """``count`` trickling connections, returned once all are connected (so that a measured
    stream started next is not timed against the test's own burst of connects)."""
    opened = asyncio.Semaphore(0)
    slow: list[asyncio.Future[float]] = [
        asyncio.ensure_future(
            trickle(port, data, interval=interval, limit_s=limit_s, opened=opened)
        )
        for _ in range(count)
    ]
    async with asyncio.timeout(30):
        for _ in range(count):
            await opened.acquire()
    return slow


def assert_cut_within_bound(
    latencies: Latencies,
    lifetimes: list[float],
    *,
    status: int,
    bound: float,
    limit: float,
) -> None:
    """The slow-client promise: every trickled head was cut after ``bound`` and before
    ``limit`` (the bound plus slack), and the legitimate requests alongside all got
    ``status`` with a p99 under 100 ms."""
    print(
        f"requests p50 {latencies.quantile(0.5) * 1000:.1f} ms, p99 "
        f"{latencies.quantile(0.99) * 1000:.1f} ms; slow heads cut after "
        f"{min(lifetimes):.2f}-{max(lifetimes):.2f} s"
    )
    assert set(latencies.statuses) == {status}, latencies.statuses
    assert latencies.quantile(0.99) < 0.100, sorted(latencies.seconds)[-5:]
    never_cut = [t for t in lifetimes if t >= limit]
    assert not never_cut, f"{len(never_cut)} of {len(lifetimes)} trickled heads still open"
    assert min(lifetimes) >= bound - 0.1  # nothing is cut before its bound
