"""The test clock's sleep: it returns when the clock is moved past its end, never by
itself, so code that sleeps on a clock is tested without waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.clock import FixedClock, SystemClock

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


async def test_a_sleep_ends_when_the_clock_passes_its_end() -> None:
    clock = FixedClock(T0)
    sleeper = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    clock.advance(5)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(5)
    await asyncio.wait_for(sleeper, timeout=5)
    assert clock.now() == datetime(2025, 3, 1, 12, 0, 10, tzinfo=UTC)


async def test_sleepers_wake_in_their_own_time_and_can_be_cancelled() -> None:
    clock = FixedClock(T0)
    short = asyncio.create_task(clock.sleep(1))
    long = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0)
    clock.advance(2)
    await asyncio.wait_for(short, timeout=5)
    assert not long.done()
    long.cancel()
    await asyncio.gather(long, return_exceptions=True)
    assert long.cancelled()
    clock.advance(120)  # waking a cancelled sleeper is harmless


async def test_zero_sleeps_only_yield() -> None:
    await asyncio.wait_for(FixedClock(T0).sleep(0), timeout=5)
    await asyncio.wait_for(SystemClock().sleep(0), timeout=5)
