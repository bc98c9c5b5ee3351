"""How the inbox processor paces itself (``bot.services.incidents.inbox``): batch sizes, the
poll, and the retry schedule of a delivery whose processing failed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.workers import backoff_ceiling


@dataclass(frozen=True, slots=True)
class ProcessorTimings:
    """How the processor paces itself; the defaults suit a single bot process."""

    batch: int = 32  # deliveries per transaction: one commit (one fsync) for all of them
    batch_seconds: float = 0.02  # but no transaction runs (holds the write lock) longer
    # nor takes more body bytes than about this: a batch of 32 large groups (~400 KB each)
    # read 13 MB to apply the one or two its time allowed, and the next batch read them
    # again; even two per batch prepared the second for nothing when the first used up the
    # time (bench.processor: re-sends 18,000 alerts/s two per batch, 29,000 one per batch)
    batch_bytes: int = 256_000
    busy_batch: int = 4  # per transaction while a storm goes on
    max_defer: float = 0.2  # seconds to wait for a storm to pass before each batch
    poll: float = 1.0  # seconds between looks for rows this process was not told about
    retry_base: float = 1.0
    retry_cap: float = 300.0
    max_attempts: int = 8
    unavailable_backoff: float = 1.0  # seconds to wait when the database is unreachable


def retry_delay(attempts: int, timings: ProcessorTimings) -> float:
    """Exponential backoff after ``attempts`` failed tries, capped."""
    return backoff_ceiling(attempts, base=timings.retry_base, cap=timings.retry_cap)
