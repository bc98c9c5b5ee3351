"""The outbox worker's writes: each outcome of a send recorded on its row, under its lease."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.incident import JSON
from bot.domain.outbox import OutboxMessage, Pace
from bot.ports import Sender, Settled, Store, UnitOfWork
from bot.services.transactions import in_transaction

log = logging.getLogger("firebreak.outbox")


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A call its target confirmed: what to record on its row and among the incident's refs."""

    message: OutboxMessage
    saves: dict[str, str]
    summary: JSON
    at: datetime


class RowWriter:
    """Short transactions (retried on ``Conflict``) on the rows ``worker_id`` holds."""

    def __init__(self, store: Store, clock: Clock, worker_id: str) -> None:
        self._store = store
        self._clock = clock
        self._worker = worker_id

    async def _write(self, work: Callable[[UnitOfWork], Awaitable[bool]]) -> bool:
        return await in_transaction(self._store, work)

    async def hold(self, pace: Pace, until: datetime) -> None:
        """Let no call of ``pace`` leave before ``until``, on any replica (the target said
        429)."""

        async def work(uow: UnitOfWork) -> bool:
            await uow.pace.hold(pace, until=until)
            return True

        await self._write(work)

    async def sent(self, done: Confirmed) -> bool:
        """Mark the row sent and store the refs it produced; ``False`` if it was finished
        already (another worker sent it too: its refs stay)."""

        async def work(uow: UnitOfWork) -> bool:
            recorded = await uow.outbox.mark_sent(done.message.id, at=done.at, result=done.summary)
            incident_id = done.message.call.incident_id
            # Refs only from the send that counts: a late duplicate must not repoint the
            # incident's card at its copy.
            if recorded and done.saves and incident_id is not None:
                await uow.chat_refs.save_refs(incident_id, done.saves)
            return recorded

        return await self._write(work)

    async def renew(self, message: OutboxMessage, seconds: float) -> bool:
        """Hold the row ``seconds`` longer from now; ``False`` if this worker lost it."""
        until = self._clock.now() + timedelta(seconds=seconds)
        return await self._write(
            lambda uow: uow.outbox.renew(message.id, worker=self._worker, until=until)
        )

    async def reschedule(self, message: OutboxMessage, when: datetime, error: str) -> bool:
        """Release the row for a later try; ``False`` if this worker lost its lease."""
        return await self._write(
            lambda uow: uow.outbox.reschedule(
                message.id, worker=self._worker, not_before=when, error=error
            )
        )

    async def fail(self, message: OutboxMessage, error: str) -> bool:
        """Fail the row for good; ``False`` if this worker lost its lease."""
        call = message.call
        log.error(
            "outbox: row %d (%s, key %s) failed for good: %s",
            message.id,
            call.method,
            call.ordering_key,
            error,
        )
        return await self._write(
            lambda uow: uow.outbox.mark_failed(
                message.id, worker=self._worker, at=self._clock.now(), error=error
            )
        )


class RowLease:
    """The ``Lease`` (``bot.ports``) a send is given for its row: renewed for a full
    ``seconds`` at a time, and remembered as lost once it was (the worker then records
    nothing: the row is another worker's)."""

    def __init__(self, rows: RowWriter, message: OutboxMessage, seconds: float) -> None:
        self._rows = rows
        self._message = message
        self._seconds = seconds
        self.lost = False

    async def renew(self) -> bool:
        if self.lost:
            return False
        held = await self._rows.renew(self._message, self._seconds)
        if not held:
            self.lost = True
            log.warning(
                "outbox: row %d (%s) is no longer this worker's (taken over after its lease, "
                "or finished or cancelled); this send stops",
                self._message.id,
                self._message.call.method,
            )
        return held


async def settle_unsendable(
    uow: UnitOfWork,
    senders: Mapping[str, Sender],
    batch: Sequence[OutboxMessage],
    *,
    worker: str,
    now: datetime,
    settled: list[tuple[OutboxMessage, Settled, str]],
) -> list[OutboxMessage]:
    """Record the rows nobody will send in the claim's own transaction (one commit per
    round, not one per row, in an alert storm), adding them to ``settled``; the rest, to
    send."""
    sendable: list[OutboxMessage] = []
    for message in batch:
        sender = senders.get(message.call.target)
        if sender is None:
            error = f"unknown_target:{message.call.target}"
            log.error("outbox: row %d failed for good: %s", message.id, error)
            await uow.outbox.mark_failed(message.id, worker=worker, at=now, error=error)
            settled.append((message, "failed", error))
        elif not sender.configured:
            reason = sender.skip(message.call)
            await uow.outbox.mark_unconfigured(message.id, worker=worker, at=now, reason=reason)
            settled.append((message, "unconfigured", reason))
        else:
            sendable.append(message)
    return sendable
