"""The one worker shape: it runs its step when woken or when the injected clock's poll has
passed, keeps going after a failed round, drains on demand and stops."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.clock import FixedClock
from bot.errors import StorageUnavailable
from bot.workers import Pacing, Worker

HOUR = 3600.0


class Script:
    """A step that does what the test queued: ``True``/``False`` or an exception."""

    def __init__(self) -> None:
        self.queue: list[bool | Exception] = []
        self.rounds = 0

    async def __call__(self) -> bool:
        self.rounds += 1
        if not self.queue:
            return False
        item = self.queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_fixed_clock_sleep_ends_when_time_is_moved_past_it(clock: FixedClock) -> None:
    sleeping = asyncio.ensure_future(clock.sleep(10))
    await settle()
    clock.advance(9)
    await settle()
    assert not sleeping.done()
    clock.advance(1)
    await settle()
    assert sleeping.done()


async def test_the_loop_runs_on_a_wake_and_after_the_poll_of_the_clock(clock: FixedClock) -> None:
    step = Script()
    worker = Worker("test", step, clock=clock, pacing=Pacing(poll=HOUR))
    await worker.start()
    try:
        await settle()
        assert step.rounds == 1  # the first round runs at start
        await settle()
        assert step.rounds == 1  # then it waits for the poll
        worker.wake()
        await settle()
        assert step.rounds == 2
        clock.advance(HOUR)
        await settle()
        assert step.rounds == 3
    finally:
        await worker.stop()
    assert not worker.running


async def test_a_round_that_found_work_is_followed_at_once(clock: FixedClock) -> None:
    step = Script()
    step.queue = [True, True, False]
    worker = Worker("test", step, clock=clock, pacing=Pacing(poll=HOUR))
    await worker.start()
    try:
        await settle()
        assert step.rounds == 3
    finally:
        await worker.stop()


async def test_a_failed_round_is_logged_and_retried_after_a_backoff(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    step = Script()
    step.queue = [StorageUnavailable("database restarting"), RuntimeError("a bug"), True]
    pacing = Pacing(poll=HOUR, backoff_base=10.0, backoff_cap=10.0)
    worker = Worker("test", step, clock=clock, pacing=pacing, transient=(StorageUnavailable,))
    with caplog.at_level(logging.WARNING, logger="firebreak.workers"):
        await worker.start()
        try:
            await settle()
            assert step.rounds == 1
            clock.advance(10)  # the backoff is at most 10 s, far below the hour's poll
            await settle()
            assert step.rounds == 2
            clock.advance(10)
            await settle()
            assert step.rounds == 4  # the round that found work, then one that did not
            assert worker.running
        finally:
            await worker.stop()
    transient, bug = [r for r in caplog.records if r.name == "firebreak.workers"]
    assert "database restarting" in transient.getMessage()
    assert transient.exc_info is None
    assert bug.exc_info is not None


async def test_drain_runs_rounds_until_one_finds_nothing(clock: FixedClock) -> None:
    step = Script()
    step.queue = [True, True, True, False, True]
    worker = Worker("test", step, clock=clock, pacing=Pacing(poll=HOUR))
    assert await worker.drain() == 3
    assert step.queue == [True]


async def test_stop_lets_the_round_in_flight_finish_within_its_timeout(
    clock: FixedClock,
) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow() -> bool:
        started.set()
        await release.wait()
        finished.set()
        return False

    worker = Worker("test", slow, clock=clock, pacing=Pacing(poll=HOUR, stop_timeout=HOUR))
    await worker.start()
    await started.wait()
    stopping = asyncio.ensure_future(worker.stop())
    await settle()
    assert not stopping.done()
    release.set()
    await stopping
    assert finished.is_set()


async def test_stop_without_a_timeout_cancels_the_round_in_flight(clock: FixedClock) -> None:
    started = asyncio.Event()

    async def stuck() -> bool:
        started.set()
        await asyncio.Event().wait()
        return False

    worker = Worker("test", stuck, clock=clock, pacing=Pacing(poll=HOUR))
    await worker.start()
    await started.wait()
    async with asyncio.timeout(5):
        await worker.stop()
    assert not worker.running


async def test_work_known_to_fall_due_ends_the_wait_before_the_poll(clock: FixedClock) -> None:
    step = Script()
    due: list[float | None] = [30.0]
    worker = Worker("test", step, clock=clock, pacing=Pacing(poll=HOUR), next_due=lambda: due[0])
    await worker.start()
    try:
        await settle()
        assert step.rounds == 1
        due[0] = None  # nothing more known: the next wait is the poll
        clock.advance(29)
        await settle()
        assert step.rounds == 1
        clock.advance(1)
        await settle()
        assert step.rounds == 2
        clock.advance(HOUR - 1)
        await settle()
        assert step.rounds == 2
        clock.advance(1)
        await settle()
        assert step.rounds == 3
    finally:
        await worker.stop()
