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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.domain.incident import AlertGroup, DeliveryOutcome, Incident, PendingDelivery, Source
from bot.domain.pagerduty import PagerDutyEvent
from bot.errors import BadRequest, StorageUnavailable
from bot.policy.model import Policy
from bot.ports import Inbox, Store, UnitOfWork
from bot.services.incidents.ingest_alertmanager import AlertIngestResult, apply_alert_group
from bot.services.incidents.ingest_pagerduty import PagerDutyIngestResult, apply_pagerduty_event
from bot.services.transactions import in_transaction
from bot.text import clean
from bot.workers import Pacing, Worker, backoff_ceiling

log = logging.getLogger(__name__)

NO_INCIDENT = "resolved alerts of a group with no incident"
NOT_AN_EVENT = "not a v3 event envelope"


@dataclass(frozen=True, slots=True)
class Processed:
    """What became of one inbox delivery. ``PENDING`` means it failed and will be retried.
    ``result`` is what an Alertmanager delivery did, ``pagerduty`` what a PagerDuty one did."""

    pending: PendingDelivery
    outcome: DeliveryOutcome
    detail: str = ""
    result: AlertIngestResult | None = None
    pagerduty: PagerDutyIngestResult | None = None

    @property
    def opened(self) -> tuple[Incident, ...]:
        """The incidents this delivery opened, whatever its source."""
        if self.result is not None:
            return self.result.opened
        if self.pagerduty is not None and self.pagerduty.opened is not None:
            return (self.pagerduty.opened,)
        return ()


@dataclass(frozen=True, slots=True)
class ProcessorTimings:
    """How the processor paces itself; the defaults suit a single bot process."""

    batch: int = 32  # deliveries per transaction: one commit (one fsync) for all of them
    batch_seconds: float = 0.02  # but no transaction runs (holds the write lock) longer
    busy_batch: int = 4  # per transaction while a storm goes on
    max_defer: float = 0.2  # seconds to wait for a storm to pass before each batch
    poll: float = 1.0  # seconds between looks for rows this process was not told about
    retry_base: float = 1.0
    retry_cap: float = 300.0
    max_attempts: int = 8
    unavailable_backoff: float = 1.0  # seconds to wait when the database is unreachable


def describe_error(error: BaseException) -> str:
    """The error as kept on a delivery's row: bounded, and storable by either database
    (PostgreSQL text refuses NUL, and neither takes a lone surrogate)."""
    return clean(f"{type(error).__name__}: {error}"[:2000])


def retry_delay(attempts: int, timings: ProcessorTimings) -> float:
    """Exponential backoff after ``attempts`` failed tries, capped."""
    return backoff_ceiling(attempts, base=timings.retry_base, cap=timings.retry_cap)


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
        self._policy = policy
        self._clock = clock
        self._parse = parse
        self._parse_pagerduty = parse_pagerduty
        self._sources = None if parse_pagerduty is not None else Source.ALERTMANAGER
        self._intake = intake
        self._on_processed = on_processed
        self.timings = timings or ProcessorTimings()
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
                source=self._sources, now=now, limit=limit, wait=wait_turn
            )
            # A transaction holds SQLite's only write lock, and intake's commits wait for it:
            # stop early once it has run for a while, and leave the rest for the next one.
            deadline = loop.time() + self.timings.batch_seconds
            done: list[Processed] = []
            for pending in held:
                done.append(await self._apply(uow, pending))
                if loop.time() >= deadline:
                    break
            return done

        return await in_transaction(self._store, work)

    async def _apply(self, uow: UnitOfWork, pending: PendingDelivery) -> Processed:
        """Apply one delivery by its source, and settle it in the same transaction."""
        if pending.delivery.source is Source.PAGERDUTY:
            return await self._apply_pagerduty(uow, pending)
        try:
            group = self._parse(pending.delivery.body)
        except BadRequest as exc:
            return await self._unparsable(uow, pending, exc)
        result = await apply_alert_group(
            uow, policy=self._policy, now=self._clock.now(), group=group
        )
        outcome = DeliveryOutcome.PROCESSED if result.incident_ids else DeliveryOutcome.IGNORED
        detail = "" if result.incident_ids else NO_INCIDENT
        await uow.deliveries.finish(pending.id, outcome, detail)
        return Processed(pending, outcome, detail, result)

    async def _apply_pagerduty(self, uow: UnitOfWork, pending: PendingDelivery) -> Processed:
        assert self._parse_pagerduty is not None  # only then are PagerDuty deliveries taken
        try:
            event = self._parse_pagerduty(pending.delivery.body)
        except BadRequest as exc:
            return await self._unparsable(uow, pending, exc)
        if event is None:
            await uow.deliveries.finish(pending.id, DeliveryOutcome.IGNORED, NOT_AN_EVENT)
            return Processed(pending, DeliveryOutcome.IGNORED, NOT_AN_EVENT)
        result = await apply_pagerduty_event(
            uow, policy=self._policy, now=self._clock.now(), event=event
        )
        detail = event.event_type if result.outcome is DeliveryOutcome.IGNORED else ""
        await uow.deliveries.finish(pending.id, result.outcome, detail)
        return Processed(pending, result.outcome, detail, pagerduty=result)

    async def _unparsable(
        self, uow: UnitOfWork, pending: PendingDelivery, error: BadRequest
    ) -> Processed:
        # Intake validated this body with the same parser, so only a parser that changed
        # between acceptance and processing (an upgrade) lands here. Keep it for a person.
        detail = f"cannot be parsed any more: {error}"
        await uow.deliveries.finish(pending.id, DeliveryOutcome.FAILED, detail)
        return Processed(pending, DeliveryOutcome.FAILED, detail)

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
                held = await self._hold_back(taken[0], exc)
                if held is not None:
                    done.append(held)
                continue
            if not single:
                break
            done.extend(single)
        return done

    async def _hold_back(self, pending: PendingDelivery, error: Exception) -> Processed | None:
        """Count a failed attempt at ``pending`` (the delivery that just failed alone, by id:
        not "the oldest due one", which another replica may have settled meanwhile) and
        retry it after a backoff or, after ``max_attempts``, keep it ``FAILED`` with the
        error. Only this delivery waits; ``None`` if it was no longer pending."""
        log.error(
            "processing inbox delivery %s failed (attempt %d of at most %d)",
            pending.delivery.key,
            pending.attempts + 1,
            self.timings.max_attempts,
            exc_info=error,
        )
        try:
            text = describe_error(error)
            return await in_transaction(
                self._store, lambda uow: self._count_failure(uow, pending, text)
            )
        except StorageUnavailable:
            raise
        except Exception:
            # Recording the error failed too (its text, say): keep the delivery failed with
            # only the error's type, so it cannot come back and fail the same way for ever.
            log.exception("recording the failure of inbox delivery %s failed", pending.delivery.key)
            plain = f"{type(error).__name__} (its message could not be recorded)"
            return await in_transaction(
                self._store, lambda uow: self._count_failure(uow, pending, plain, give_up=True)
            )

    async def _count_failure(
        self, uow: UnitOfWork, pending: PendingDelivery, text: str, *, give_up: bool = False
    ) -> Processed | None:
        if give_up:
            # As few steps as can be: this runs because recording the failure failed.
            detail = f"gave up after {pending.attempts + 1} attempts: {text}"
            if not await uow.deliveries.finish(pending.id, DeliveryOutcome.FAILED, detail):
                return None
            return Processed(pending, DeliveryOutcome.FAILED, detail)
        now = self._clock.now()
        delay = timedelta(seconds=retry_delay(pending.attempts + 1, self.timings))
        # The stored count, not ours: another replica may have failed at it as well.
        attempts = await uow.deliveries.defer(pending.id, not_before=now + delay, error=text)
        if attempts == 0:
            return None
        if attempts >= self.timings.max_attempts:
            detail = f"gave up after {attempts} attempts: {text}"
            await uow.deliveries.finish(pending.id, DeliveryOutcome.FAILED, detail)
            return Processed(pending, DeliveryOutcome.FAILED, detail)
        return Processed(pending, DeliveryOutcome.PENDING, text)

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
