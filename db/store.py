"""``SqlStore``: the ``bot.ports.Store`` over an async SQLAlchemy engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import make_engine
from db.errors import translated
from db.repositories import (
    SqlActionRepository,
    SqlAlertRepository,
    SqlChatRefRepository,
    SqlDeliveryRepository,
    SqlEscalationRepository,
    SqlGraphRepository,
    SqlHealthRepository,
    SqlIncidentRepository,
    SqlMaintenanceRepository,
    SqlOutboxRepository,
    SqlPaceRepository,
    SqlTimelineRepository,
)
from db.unit_state import UnitState


class SqlUnitOfWork:
    """The repositories of one transaction, all on the same connection and sharing what the
    transaction holds back and knows (``db.unit_state``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._state = state = UnitState()
        self.incidents = SqlIncidentRepository(conn, state)
        self.alerts = SqlAlertRepository(conn, state)
        self.timeline = SqlTimelineRepository(conn, state)
        self.deliveries = SqlDeliveryRepository(conn, state)
        self.outbox = SqlOutboxRepository(conn, state)
        self.chat_refs = SqlChatRefRepository(conn, state)
        self.pace = SqlPaceRepository(conn, state)
        self.actions = SqlActionRepository(conn, state)
        self.health = SqlHealthRepository(conn, state)
        self.escalations = SqlEscalationRepository(conn, state)
        self.maintenance = SqlMaintenanceRepository(conn, state)
        self.graphs = SqlGraphRepository(conn, state)

    async def flush(self) -> None:
        """Send every held-back write (before commit)."""
        await self._state.held.flush(self._conn)


class SqlStore:
    """Transactions over SQLite or PostgreSQL.

    On SQLite every transaction is ``BEGIN IMMEDIATE``, so only one can run at a time anyway;
    an ``asyncio.Lock`` queues this process's transactions in memory rather than letting a
    burst of them spin on the database's busy timeout. Other processes still wait on the
    busy timeout.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._serialise = engine.dialect.name == "sqlite"
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> SqlStore:
        return cls(make_engine(url))

    def writer_turn(self) -> AbstractAsyncContextManager[object]:
        """Hold this while writing to SQLite through any other connection of this process:
        SQLite has one writer, and queueing here beats spinning on the busy timeout."""
        return self._lock if self._serialise else nullcontext()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.writer_turn():
            async with translated():
                conn = await self.engine.connect()
            try:
                async with translated():
                    transaction = await conn.begin()
                try:
                    uow = SqlUnitOfWork(conn)
                    yield uow
                    await uow.flush()
                except BaseException:
                    # The error that got us here is the one worth reporting; if the rollback
                    # fails too, closing the connection discards the transaction anyway.
                    with suppress(Exception):
                        await transaction.rollback()
                    raise
                async with translated():
                    await transaction.commit()
            finally:
                # Committed or rolled back by now; a failure to hand the connection back to
                # the pool must not turn a committed transaction into a reported failure.
                with suppress(Exception):
                    await conn.close()

    async def ping(self) -> None:
        async with self.writer_turn(), translated(), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
