"""Background traffic for the LNN service, so its latency, error-rate and throughput rules
have requests to judge (the throughput rule pages below 15,000 inferences/s).

Batches go to ``/inference/batch`` as little-endian float32 rows on a fixed schedule, not
back to back: the rate does not depend on how fast the service answers, so a latency drill
adds latency without also starving throughput, and the cost stays bounded. Requests in
flight are capped; a slot that is not free when its turn comes is skipped, and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np

BATCH_PATH = "/inference/batch"
INPUT_DIM = 4


@dataclass(frozen=True)
class Load:
    """``rows`` per request, ``per_second`` requests: 500 x 40 = 20,000 inferences/s.
    500 rows stay under the service's default batch lane threshold (512), so each batch
    runs inline in one onnxruntime call."""

    rows: int = 500
    per_second: float = 40.0
    max_in_flight: int = 32

    @property
    def inferences_per_second(self) -> float:
        """The rate the LNN service is asked to serve."""
        return self.rows * self.per_second


@dataclass
class LoadStats:
    """What the load sent and how the LNN service answered, counted per request."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # turns that found every slot busy
    statuses: dict[int, int] = field(default_factory=dict)


def batch_body(rows: int, seed: int = 0) -> bytes:
    """``rows`` cart-pole states near upright (the model's normal inputs), float32 LE."""
    rng = np.random.default_rng(seed)
    states = rng.uniform(-0.1, 0.1, size=(rows, INPUT_DIM)).astype("<f4")
    return states.tobytes()


async def generate(base_url: str, load: Load, stop: asyncio.Event) -> LoadStats:
    """Send ``load`` to the LNN service at ``base_url`` until ``stop`` is set; the tally."""
    stats = LoadStats()
    body = batch_body(load.rows)
    headers = {"Content-Type": "application/octet-stream", "X-LNN-Return-State": "0"}
    slots = asyncio.Semaphore(load.max_in_flight)
    in_flight: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=30)
    url = base_url.rstrip("/") + BATCH_PATH

    async def one(session: aiohttp.ClientSession) -> None:
        try:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                stats.statuses[response.status] = stats.statuses.get(response.status, 0) + 1
                if response.status == 200:
                    stats.ok += 1
                else:
                    stats.failed += 1
        except (aiohttp.ClientError, TimeoutError, OSError):
            stats.failed += 1
        finally:
            slots.release()

    period = 1.0 / load.per_second
    async with aiohttp.ClientSession(timeout=timeout) as session:
        next_at = time.monotonic()
        while not stop.is_set():
            if slots.locked():
                stats.skipped += 1
            else:
                await slots.acquire()
                stats.sent += 1
                task = asyncio.create_task(one(session))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            next_at += period
            # Behind schedule (a stalled machine): start again from now rather than burst.
            next_at = max(next_at, time.monotonic() - period)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
        for task in list(in_flight):
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
    return stats
