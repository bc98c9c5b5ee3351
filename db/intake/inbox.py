"""``SqlInbox``: the intake side of the inbox, committing deliveries in groups.

Every webhook sender waits for its delivery to be committed before it gets its 2xx (persist,
then acknowledge). One commit per delivery would cost one fsync each; instead a writer takes
whatever has queued up while the previous commit ran and stores it as one statement and one
commit, then answers every waiting sender.
Under light load a batch is one delivery and the latency is one commit; under a storm the
fsync is shared by hundreds.
A failed commit fails every delivery in it (each sender gets a 503 and retries): nothing is
acknowledged that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.domain.incident import Delivery
from bot.errors import StorageUnavailable
from bot.services.incidents.intake_pressure import IntakePressure
from db.intake.postgres import PostgresInboxWriter
from db.intake.sqlite import SqliteInboxWriter
from db.store import SqlStore

log = logging.getLogger(__name__)

MAX_BATCH = 512
# Beyond this many deliveries waiting for a commit, new ones are refused at once with a 503
# rather than queued: the database is not keeping up, and the sender will retry.
MAX_WAITING = 8192


class BatchWriter(Protocol):
    # How many batches may commit at once. Both writers say 1: SQLite has one writer, and on
    # PostgreSQL bigger batches beat parallel ones (see db.intake.postgres).
    concurrency: int

    async def write(self, batch: Sequence[Delivery]) -> None:
        """Commit every delivery of ``batch`` as a pending inbox row, or none of them."""
        ...

    async def close(self) -> None: ...


def batch_writer_for(store: SqlStore) -> BatchWriter:
    """SQLite gets a worker process of its own (``db.intake.sqlite``), PostgreSQL a ``COPY``
    on the writer's own connections (``db.intake.postgres``)."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return SqliteInboxWriter(url.database, writer_turn=store.writer_turn)
    return PostgresInboxWriter(store.engine)


class SqlInbox:
    """Implements ``bot.ports.Inbox`` with group commit over a ``SqlStore``; ``pressure``
    decides whether a storm is arriving (``Inbox.busy``)."""

    def __init__(
        self,
        store: SqlStore,
        *,
        pressure: IntakePressure,
        on_commit: Callable[[], None] | None = None,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._store = store
        self._writer = batch_writer_for(store)
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._max_waiting = max_waiting
        self._waiting: list[tuple[Delivery, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # Whether a storm is arriving is the service's call (its thresholds, its batch
        # sizes), so the composition root builds the gauge; intake only reports each
        # arrival and how many deliveries wait.
        self._pressure = pressure

    def wake_on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each commit of deliveries (the app wakes the processor)."""
        self._on_commit = callback

    def busy(self) -> bool:
        """Whether an alert storm is arriving (``bot.services.incidents.intake_pressure``)."""
        return self._pressure.busy(len(self._waiting))

    async def settled(self) -> None:
        await self._pressure.settled(lambda: len(self._waiting))

    async def accept(self, delivery: Delivery) -> None:
        if len(self._waiting) >= self._max_waiting:
            raise StorageUnavailable(
                f"{len(self._waiting)} deliveries are already waiting for the database"
            )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pressure.arrived()
        self._waiting.append((delivery, done))
        if len(self._flushers) < self._writer.concurrency:
            self._idle.clear()
            self._flushers.add(asyncio.create_task(self._flush(), name="inbox-writer"))
        # A sender that hangs up cancels only its own future; the commit goes on for the rest.
        await done

    async def accept_once(self, delivery: Delivery) -> bool:
        """Store ``delivery`` unless its key is stored already, in a transaction of its own.

        Not group-committed: the batch writers' ``COPY`` and multi-row INSERT fail a whole
        batch on one duplicate key, while deliveries with the sender's own id (PagerDuty's)
        are few and are exactly the ones that may come twice. The unique (source, key)
        decides; a concurrent redelivery waits for the first one's commit, then stores nothing.
        """
        self._pressure.arrived()
        async with self._store.transaction() as uow:
            stored = await uow.deliveries.enqueue_once(delivery)
        if stored and self._on_commit is not None:
            self._on_commit()
        return stored

    async def close(self) -> None:
        """Let the writers finish what is queued, then release their connection."""
        await self._idle.wait()
        await self._writer.close()

    async def _flush(self) -> None:
        # Each flusher takes whatever has queued since; under load, batches grow by themselves.
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._commit(batch)
        finally:
            # In the same step as the last look at ``_waiting`` (no await in between), so a
            # delivery queued after it always finds fewer flushers and starts one.
            this = asyncio.current_task()
            if this is not None:
                self._flushers.discard(this)
            if not self._flushers:
                self._idle.set()

    async def _commit(self, batch: list[tuple[Delivery, asyncio.Future[None]]]) -> None:
        try:
            await self._writer.write([delivery for delivery, _ in batch])
        except Exception as exc:
            if isinstance(exc, StorageUnavailable):
                reason = str(exc)
            else:
                log.exception("inbox commit failed")
                reason = f"the inbox could not store the delivery: {exc!r}"
            for _, done in batch:
                if not done.done():
                    done.set_exception(StorageUnavailable(reason))
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
        if self._on_commit is not None:
            self._on_commit()
