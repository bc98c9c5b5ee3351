"""One shape for background work: a loop that runs a step, waits, and runs it again.

A worker is a ``step`` (one round of work: claim what is due, handle it, say whether more
may be ready) driven by ``Worker``: ``start``, ``stop``, ``wake`` (new work was committed:
look now instead of at the next poll) and ``drain`` (run steps now until nothing is left).
Its waits go through the injected ``Clock``, so tests move time instead of waiting.

One-off background work (an execution an approval starts, the answer Slack waits for after
its acknowledgement) is a ``TaskSet``: each task named, a failure logged once with its name
and traceback, all of them cancelled and awaited on ``stop``. Nothing else in ``bot/`` or
``handlers/`` starts a task (``tests/unit/test_task_spawning.py`` checks).

Supervision lives here, in one place: a step that raises is logged (``transient`` errors,
such as the database being unreachable, as one WARNING line; anything else with its
traceback) and the loop carries on after a backoff. It does not stop the app: every worker
works on rows that stay in the database, so the next round after a failure picks up where
the last one left off, and a database blip must not restart every replica at once. A
worker that cannot make progress shows where people look: ``/readyz`` reports an inbox
that ages, and the outbox and actions keep their rows with the last error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.clock import Clock

log = logging.getLogger("firebreak.workers")

Step = Callable[[], Awaitable[bool]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pacing:
    """Seconds. ``poll`` between rounds that found nothing (a ``wake`` cuts it short);
    after ``n`` failed rounds in a row, a wait doubling from ``backoff_base`` up to
    ``backoff_cap``; ``stop_timeout`` for the round in flight to finish when stopping
    (0: cancel it at once; what it held stays in the database for the next round)."""

    poll: float = 1.0
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    stop_timeout: float = 0.0


def backoff_ceiling(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: doubling from ``base`` up to
    ``cap``. The one retry schedule of the bot: failed rounds and outbox rows jittered
    (``backoff_delay``), inbox deliveries as is (their time is stored with them)."""
    exponent = min(max(attempts - 1, 0), 62)
    return float(min(cap, base * math.pow(2, exponent)))


def backoff_delay(
    attempts: int,
    *,
    base: float = 1.0,
    cap: float = 300.0,
    rng: random.Random | None = None,
) -> float:
    """``backoff_ceiling`` scaled by a random factor in [0.5, 1], so replicas do not retry
    in step."""
    factor = 0.5 + 0.5 * (rng or random).random()
    return backoff_ceiling(attempts, base=base, cap=cap) * factor


class Worker:
    """Runs ``step`` in the background until stopped; see the module docstring."""

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        clock: Clock,
        pacing: Pacing,
        transient: tuple[type[Exception], ...] = (),
        next_due: Callable[[], float | None] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._clock = clock
        self.pacing = pacing
        self._transient = transient
        # Seconds until work the step already knows of falls due (the outbox's paced rows):
        # an idle wait ends then rather than at the next poll.
        self._next_due = next_due
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def wake(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.name)
            self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Let the round in flight finish (up to ``pacing.stop_timeout``), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        # The flag as well as the cancellation: on Python 3.11 a cancellation that arrives
        # as a wait is finishing can be lost (gh-86296), and the loop must end regardless.
        self._stopping = True
        self._wake.set()
        if self.pacing.stop_timeout > 0:
            # asyncio.wait, not wait_for: a caller's own cancellation must reach the caller.
            await asyncio.wait([task], timeout=self.pacing.stop_timeout)
            if not task.done():
                log.warning(
                    "%s: work still in flight after %.1fs, cancelling",
                    self.name,
                    self.pacing.stop_timeout,
                )
        task.cancel()
        await asyncio.wait([task])

    def _ended(self, task: asyncio.Task[None]) -> None:
        # The loop catches every Exception of a round; only something that bypasses that
        # (a BaseException, a bug in the loop itself) ends it while not stopping: say so.
        if self._stopping or task.cancelled():
            return
        log.critical("%s: the loop ended and no longer runs", self.name, exc_info=task.exception())

    async def drain(self, *, max_rounds: int = 10_000) -> int:
        """Run steps now until one finds nothing more; the number of rounds that did work."""
        rounds = 0
        while rounds < max_rounds and await self._step():
            rounds += 1
        return rounds

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                more = await self._step()
            except self._transient as exc:
                failures += 1
                wait = self._backoff(failures)
                log.warning("%s: %s; next round in %.1fs", self.name, exc, wait)
            except Exception:
                failures += 1
                wait = self._backoff(failures)
                log.exception("%s: a round failed; next round in %.1fs", self.name, wait)
            else:
                failures = 0
                if more:
                    continue
                wait = self._poll_wait()
            if not self._stopping:
                await self._idle(wait)

    def _poll_wait(self) -> float:
        due = self._next_due() if self._next_due is not None else None
        return self.pacing.poll if due is None else min(self.pacing.poll, max(due, 0.0))

    def _backoff(self, failures: int) -> float:
        return backoff_delay(failures, base=self.pacing.backoff_base, cap=self.pacing.backoff_cap)

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds`` of the clock's time, or less if woken."""
        if self._wake.is_set():
            return
        # Both waits are owned and reaped right here: nothing outlives this call.
        woken = asyncio.ensure_future(self._wake.wait())
        slept = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait([woken, slept], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (woken, slept):
                waiting.cancel()
            await asyncio.wait([woken, slept])


class TaskSetStopped(RuntimeError):
    """``TaskSet.spawn`` after ``stop``: the app is shutting down and what the task would use
    (the store, the cluster) is being closed. A bug in the caller's ordering, not a state a
    request can be in: requests finish before the app's cleanup runs."""


class TaskSet:
    """One-off tasks that outlive the call that started them; see the module docstring.

    A task that raises is logged here, once, with its name and traceback (nobody else may be
    waiting for it), and does not disturb the others. ``stop`` cancels what is running and
    waits up to ``stop_timeout`` seconds for it to end; after it, ``spawn`` refuses."""

    def __init__(self, name: str, *, stop_timeout: float = 10.0) -> None:
        self.name = name
        self.stop_timeout = stop_timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False

    @property
    def in_flight(self) -> int:
        """How many tasks are running."""
        return len(self._tasks)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Run ``work`` in the background as a task called ``name``."""
        if self._stopped:
            work.close()  # never started: close it, so Python does not warn it was not awaited
            raise TaskSetStopped(f"{self.name} is stopped: {name} was not started")
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    async def idle(self) -> None:
        """Wait until no task is running (tests and graceful drains)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def stop(self) -> None:
        """Refuse new tasks, cancel the running ones and wait for them to end."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        # asyncio.wait, not wait_for: a caller's own cancellation must reach the caller.
        _, pending = await asyncio.wait(tasks, timeout=self.stop_timeout)
        if pending:
            log.warning(
                "%s: %d task(s) still running %.1fs after being cancelled: %s",
                self.name,
                len(pending),
                self.stop_timeout,
                ", ".join(sorted(task.get_name() for task in pending)),
            )

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        # Reading the exception here also keeps asyncio from logging it a second time.
        error = task.exception()
        if error is not None:
            log.error("%s: %s failed", self.name, task.get_name(), exc_info=error)
