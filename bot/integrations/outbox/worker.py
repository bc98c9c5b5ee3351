"""The outbox worker: hands pending calls to the sender of their target, in order per
ordering key, and keeps at it. It knows nothing of any target: a ``Sender`` (``bot.ports``)
per target name makes the call and says what the answer means (``bot.domain.outbox.Outcome``);
the app registers them (``bot.app``).

What happens to a row:

* It is claimed with a lease (``lease_seconds``, longer than any one call to a target can
  take) so two replicas never send it at once; a worker that dies leaves the lease to expire
  and another worker (or itself, restarted) takes the row up again. A send made of several
  calls (a Slack file: three) can outlast the lease without dying, so the sender is given
  the row's ``Lease`` (``bot.ports``) and renews it, a conditional update on the row and this
  worker, just before the call that takes effect; if another worker took the row over
  meanwhile the send stops there, and this worker records nothing on the row.
* The target confirms: the row is marked sent in the same transaction that stores the chat refs
  it produced; it is never sent again. Should that write fail, the worker keeps the result
  in memory and writes it before sending anything else, rather than sending twice.
* ``RETRY`` (connection errors, timeouts, 5xx): retried after an exponential backoff with jitter
  (``backoff_base`` doubling up to ``backoff_cap``); after ``max_attempts`` claims the row
  fails.
* Paced (``bot.integrations.outbox.pacing``): a call whose sender names a pace slot (Slack's
  rate tiers) leaves only once it takes the slot, in the database, in the claim's
  transaction; otherwise it is given back untried until the slot frees, and its key waits.
* ``RATE_LIMITED`` (HTTP 429): the target's *method* pauses until ``Retry-After`` has
  passed, in this worker, and the call's pace slot is held that long for every replica;
  other methods go on. The row waits with it.
* ``FAILED`` (for Slack: ``channel_not_found``, ``invalid_auth``, ``msg_too_long``, ...):
  the row fails for good, logged at ERROR with its error code. Later rows of the same key
  are *not* held back: a card update or a timeline note is still worth having in the
  channel when one message was refused, and an incident channel frozen by one bad message
  would hide everything after it from the responders. Rows that needed a ref the failed row
  should have produced (e.g. posts into a channel that was never created) fail in turn with
  ``missing_ref:<name>``, each logged.

A target whose sender is not configured (Slack without a token) has every row logged by
its sender and marked ``unconfigured``; a row naming a target nobody registered fails for
good with ``unknown_target:<name>``.

An optional ``OutboxObserver`` (``bot.ports``) is told each row's outcome after it is
recorded (sent, retry, rate_limited, failed, unconfigured): the app counts pages and emails
and writes a failed one on its incident's timeline with it. A method paused by an earlier 429
is not an outcome (nothing was sent) and is not reported. An observer that raises is logged;
the worker goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.incident import JSON
from bot.domain.outbox import (
    SLACK,
    MissingRef,
    OutboxMessage,
    Outcome,
    SendResult,
    extract_saves,
)
from bot.errors import FirebreakError
from bot.integrations.outbox.pacing import Pacer, Ready
from bot.integrations.outbox.rows import Confirmed, RowLease, RowWriter, settle_unsendable
from bot.ports import OutboxObserver, Sender, Settled, Store
from bot.workers import Pacing, Worker, backoff_delay

log = logging.getLogger("firebreak.outbox")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class OutboxWorker:
    """Drains the outbox in the background (``start``/``stop``) or on demand (``run_once``)."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        lease_seconds: float = 300.0,
        batch_size: int = 20,
        concurrency: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        max_attempts: int = 50,
        stop_timeout: float = 10.0,
        rng: random.Random | None = None,
        observer: OutboxObserver | None = None,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts
        self._rng = rng or random.Random()
        self._observer = observer
        self._slots = asyncio.Semaphore(concurrency)
        # One call per method of a target at a time: a 429 must stop the method's next call
        # before it leaves, not after a burst of parallel ones has already hit the limit.
        self._method_locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._paused: dict[tuple[str, str], datetime] = {}
        self._confirmed: dict[int, Confirmed] = {}
        self._rows = RowWriter(store, clock, self.worker_id)
        self._pace = Pacer(senders, clock, self._rows)
        self.worker = Worker(
            f"outbox {self.worker_id}",
            self._round,
            clock=clock,
            pacing=Pacing(
                poll=poll_interval,
                backoff_base=poll_interval,
                backoff_cap=30.0,
                stop_timeout=stop_timeout,
            ),
            transient=(FirebreakError,),
            next_due=self._pace.until_slot,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self.worker.start()

    async def stop(self) -> None:
        """Finish the sends in flight (up to ``stop_timeout``), then stop. Rows cut off by
        the timeout keep their lease and are taken up again after it expires."""
        await self.worker.stop()

    def observe(self, observer: OutboxObserver) -> None:
        """Report each row's outcome to ``observer`` from now on (set it before ``start``:
        the app builds the observer on the store that itself wakes this worker)."""
        self._observer = observer

    def wake(self) -> None:
        """New rows were committed: look now instead of at the next poll."""
        self.worker.wake()

    def paused_until(self, method: str, target: str = SLACK) -> datetime | None:
        """When a rate-limited method may be called again (``None`` if it is not paused)."""
        until = self._paused.get((target, method))
        return until if until is not None and until > self.clock.now() else None

    async def _round(self) -> bool:
        return await self.run_once() > 0

    # -- one round ---------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim the ready rows (one per ordering key) and deliver them; the number claimed."""
        await self._record_confirmed()
        now = self.clock.now()
        # The claim filters on the method name alone; a row of another target whose method
        # has the same name waits a round at worst (``_deliver`` checks the pair).
        paused = sorted({method for (_, method), until in self._paused.items() if until > now})
        unsendable: list[tuple[OutboxMessage, Settled, str]] = []
        async with self.store.transaction() as uow:
            batch = await uow.outbox.claim(
                worker=self.worker_id,
                now=now,
                lease_seconds=self.lease_seconds,
                limit=self.batch_size,
                paused_methods=paused,
            )
            sendable = await settle_unsendable(
                uow, self.senders, batch, worker=self.worker_id, now=now, settled=unsendable
            )
            leaving = await self._pace.admit(uow, sendable, worker=self.worker_id, now=now)
        # Told only once the claim's transaction committed what it says.
        for message, outcome, error in unsendable:
            await self._observe(message, outcome, error)
        await asyncio.gather(*(self._guarded(row) for row in leaving))
        # Rows given back for their pace slot count too: each round moves every row it
        # claimed on (sent, settled or later), so this never spins.
        return len(batch)

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """``run_once`` until nothing is ready; the number of rows handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if handled == 0:
                break
            total += handled
        return total

    async def _guarded(self, row: Ready) -> None:
        message = row.message
        async with self._slots:
            try:
                await self._deliver(message, row.args)
            except FirebreakError as exc:
                # The row keeps its lease and comes back when it expires.
                log.warning("outbox: row %d left for later: %s", message.id, exc)
            except Exception as exc:
                # A bug or a library surprise: retry later like a transient failure, so one
                # odd row neither stops the worker nor spins.
                log.exception("outbox: row %d (%s) raised", message.id, message.call.method)
                failure = SendResult(Outcome.RETRY, message.call.method, error=repr(exc))
                await self._settle(message, failure)

    async def _deliver(self, message: OutboxMessage, args: JSON | MissingRef) -> None:
        call = message.call
        if message.id in self._confirmed:
            await self._record(message.id)
            return
        async with self._method_locks[call.target, call.method]:
            until = self.paused_until(call.method, call.target)
            if until is not None:
                await self._rows.reschedule(message, until, "ratelimited: method paused")
                return
            if isinstance(args, MissingRef):
                await self._fail(message, f"missing_ref:{args.name}")
                return
            lease = RowLease(self._rows, message, self.lease_seconds)
            result = await self.senders[call.target].send(call.method, args, lease=lease)
            if lease.lost and result.outcome is not Outcome.SENT:
                return  # the row is another worker's now: its outcome is that one's to record
            await self._pace.after(Ready(message, args), result)
            await self._settle(message, result)

    async def _settle(self, message: OutboxMessage, result: SendResult) -> None:
        now = self.clock.now()
        if result.outcome is Outcome.SENT:
            saves, missing = extract_saves(message.call, result.answer)
            if missing:
                log.warning("outbox: row %d answer lacks %s", message.id, ", ".join(missing))
            self._confirmed[message.id] = Confirmed(message, saves, result.kept, now)
            await self._record(message.id)
        elif result.outcome is Outcome.RATE_LIMITED:
            until = now + timedelta(seconds=result.retry_after)
            paused = (message.call.target, result.method)
            self._paused[paused] = max(until, self._paused.get(paused, until))
            log.info("outbox: %s rate limited for %.0fs", result.method, result.retry_after)
            error = f"ratelimited: {result.method}"
            if await self._rows.reschedule(message, until, error):
                await self._observe(message, "rate_limited", error)
        elif result.outcome is Outcome.RETRY and message.attempts < self.max_attempts:
            delay = backoff_delay(
                message.attempts, base=self.backoff_base, cap=self.backoff_cap, rng=self._rng
            )
            when = now + timedelta(seconds=delay)
            if await self._rows.reschedule(message, when, result.error):
                await self._observe(message, "retry", result.error)
        elif result.outcome is Outcome.RETRY:
            await self._fail(message, f"gave up after {message.attempts} attempts: {result.error}")
        else:
            await self._fail(message, result.error)

    async def _fail(self, message: OutboxMessage, error: str) -> None:
        if await self._rows.fail(message, error):
            await self._observe(message, "failed", error)

    async def _observe(self, message: OutboxMessage, outcome: Settled, error: str) -> None:
        if self._observer is None:
            return
        try:
            await self._observer.settled(message, outcome, error)
        except Exception:
            # The row's outcome is recorded already; an observer's trouble must not undo it
            # nor stop the worker.
            log.exception("outbox: observer failed on row %d (%s)", message.id, outcome)

    async def _record_confirmed(self) -> None:
        """Mark sent every confirmed row not yet written (raises while storage is down)."""
        for message_id in list(self._confirmed):
            await self._record(message_id)

    async def _record(self, message_id: int) -> None:
        # Forgotten only once written: until then the worker will not send the row again.
        done = self._confirmed.get(message_id)
        if done is None:
            return
        recorded = await self._rows.sent(done)
        if not recorded:
            log.warning("outbox: row %d was finished elsewhere; sent again", message_id)
        self._confirmed.pop(message_id, None)
        if recorded:
            await self._observe(done.message, "sent", "")
