"""The inbox processor: turns acknowledged deliveries (Alertmanager's and PagerDuty's) into
incidents, each applied by its source's use case.

Intake stores each delivery and acknowledges it at once (ARCHITECTURE rule 1: persist, then
acknowledge; slow work after). This processor takes the pending deliveries in arrival order,
a batch per transaction, applies each one (classification, incident, alerts, timeline) and
settles it in that same transaction. A crash rolls back the effects and the settlement
together, so the delivery is simply processed again: every delivery has its effect once.

A delivery whose processing raises is retried with backoff and, after ``max_attempts``, kept
as ``FAILED`` with the error for a person to look at; it is never dropped, and it never
blocks the deliveries behind it. Only ``StorageUnavailable`` (the database itself is down)
pauses the whole inbox; the store lets every other error keep its own type for this (an
``OverflowError`` from a time with no UTC value once passed for an outage and wedged it).

Intake has priority: in an alert storm, a sender waiting for its acknowledgement can time out
and send everything again, while processing can catch up a moment later. So while a storm is
arriving (``Inbox.busy``), the processor waits (``max_defer``) before each batch and, if the
storm goes on, takes only a small one; it never stops altogether.

This module is the loop (batches, isolation of a failed batch, storm pacing); applying one
delivery by its source is ``inbox_apply``, a delivery's failures ``inbox_failures``, the
batch sizes and retry schedule ``inbox_timings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.clock import Clock
from bot.domain.incident import AlertGroup, PendingDelivery
from bot.domain.pagerduty import PagerDutyEvent
from bot.errors import StorageUnavailable
from bot.policy.model import Policy
from bot.ports import Inbox, Store, UnitOfWork
from bot.services.incidents.inbox_apply import (
    NO_INCIDENT,
    NOT_AN_EVENT,
    DeliveryApplier,
    Processed,
)
from bot.services.incidents.inbox_failures import hold_back
from bot.services.incidents.inbox_timings import ProcessorTimings, retry_delay
from bot.services.transactions import in_transaction
from bot.workers import Pacing, Worker

# Where callers have always found them; each lives in the module named for it.
__all__ = [
    "NOT_AN_EVENT",
    "NO_INCIDENT",
    "InboxProcessor",
    "Processed",
    "ProcessorTimings",
    "retry_delay",
]

log = logging.getLogger(__name__)


class InboxProcessor:
    """Processes the inbox; ``start`` runs it in the background, ``drain`` now.

    Without ``parse_pagerduty`` it takes only Alertmanager deliveries and leaves PagerDuty's
    pending (a processor built for Alertmanager alone, as some tests do)."""

    def __init__(
        self,
        *,
        store: Store,
        policy: Policy,
        clock: Clock,
        parse: Callable[[bytes], AlertGroup],
        parse_pagerduty: Callable[[bytes], PagerDutyEvent | None] | None = None,
        intake: Inbox | None = None,
        on_processed: Callable[[Processed], None] | None = None,
        timings: ProcessorTimings | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._applier = DeliveryApplier(policy, clock, parse, parse_pagerduty)
        self._intake = intake
        self._on_processed = on_processed
        self.timings = timings or ProcessorTimings()
        self._body_bytes = 0  # the mean body size of the last batch taken
        # Stopping cancels the batch in flight: its transaction rolls back, and what it
        # held stays pending for the next process.
        self.worker = Worker(
            "inbox-processor",
            self._round,
            clock=clock,
            pacing=Pacing(
                poll=self.timings.poll,
                backoff_base=self.timings.unavailable_backoff,
                backoff_cap=self.timings.unavailable_backoff,
            ),
            transient=(StorageUnavailable,),
        )

    def wake(self) -> None:
        """New deliveries were committed: look now instead of at the next poll."""
        self.worker.wake()

    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        """Stop; what is left stays pending."""
        await self.worker.stop()

    async def _round(self) -> bool:
        return bool(await self.run_once(await self.batch_size()))

    async def drain(self, *, max_rounds: int = 10_000) -> list[Processed]:
        """Process every due delivery now (tests, and callers that must see the effects).

        Where replicas take turns (PostgreSQL), this waits for its turn rather than finding
        nothing to do while another processor is in the middle of a batch.
        """
        done: list[Processed] = []
        for _ in range(max_rounds):
            batch = await self.run_once(self.timings.batch, wait_turn=True)
            if not batch:
                break
            done.extend(batch)
        return done

    async def run_once(self, limit: int, *, wait_turn: bool = False) -> list[Processed]:
        """Process up to ``limit`` due deliveries in one transaction.

        If the batch fails, its deliveries are processed one per transaction instead, so a
        single bad delivery is deferred alone and the others go through.
        """
        limit = self.sized(limit)
        try:
            done = await self._batch(limit, wait_turn=wait_turn)
        except StorageUnavailable:
            raise
        except Exception:
            log.warning("an inbox batch failed; processing it one delivery at a time")
            done = await self._isolate(limit)
        self._report(done)
        return done

    async def _batch(
        self, limit: int, *, wait_turn: bool = False, taken: list[PendingDelivery] | None = None
    ) -> list[Processed]:
        """Take and apply up to ``limit`` due deliveries in one transaction; ``taken`` (if
        given) is left holding what was taken, so a caller whose batch failed knows which."""
        now = self._clock.now()
        loop = asyncio.get_running_loop()
        held = taken if taken is not None else []

        async def work(uow: UnitOfWork) -> list[Processed]:
            held[:] = await uow.deliveries.take_pending(
                source=self._applier.sources, now=now, limit=limit, wait=wait_turn
            )
            if held:
                self._body_bytes = sum(len(p.delivery.body) for p in held) // len(held)
            # A transaction holds SQLite's only write lock, and intake's commits wait for it:
            # stop early once it has run for a while, and leave the rest for the next one.
            deadline = loop.time() + self.timings.batch_seconds
            done: list[Processed] = []
            while len(done) < len(held):
                rest = held[len(done) :]
                parsed, prepared = await self._applier.prepare(uow, rest)
                for pending in rest[:prepared]:
                    done.append(await self._applier.apply(uow, pending, parsed.get(pending.id)))
                    if loop.time() >= deadline:
                        return done
            return done

        return await in_transaction(self._store, work)

    def sized(self, limit: int) -> int:
        """``limit``, lowered so that a batch of bodies the size of the last batch's stays
        within ``batch_bytes``: large groups go a few per transaction, alerts of one or a
        few labels still 32."""
        if self._body_bytes <= 0:
            return limit
        return max(1, min(limit, self.timings.batch_bytes // self._body_bytes))

    async def _isolate(self, count: int) -> list[Processed]:
        done: list[Processed] = []
        for _ in range(count):
            taken: list[PendingDelivery] = []
            try:
                single = await self._batch(1, taken=taken)
            except StorageUnavailable:
                raise
            except Exception as exc:
                if not taken:
                    raise  # it failed before it held a delivery: there is none to hold back
                held = await hold_back(self._store, self._clock, self.timings, taken[0], exc)
                if held is not None:
                    done.append(held)
                continue
            if not single:
                break
            done.extend(single)
        return done

    def _report(self, done: list[Processed]) -> None:
        if self._on_processed is None:
            return
        for processed in done:
            self._on_processed(processed)

    async def batch_size(self) -> int:
        """Give intake the CPU and the database while a storm arrives, within a bound."""
        intake = self._intake
        if intake is None or not intake.busy():
            return self.timings.batch
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timings.max_defer):
                await intake.settled()
        return self.timings.busy_batch if intake.busy() else self.timings.batch
