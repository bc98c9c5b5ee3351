"""Reads outside any unit of work, in one consistent snapshot and without taking locks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import READ_ONLY
from db.errors import translated


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements all read one snapshot and write nothing: on PostgreSQL
    a REPEATABLE READ, READ ONLY transaction; on SQLite a deferred one, which neither takes
    the write lock nor queues behind this process's writers (``SqlStore.writer_turn``).
    Storage errors come out as ``StorageUnavailable``; the transaction is rolled back."""
    async with translated():
        conn = await engine.connect()
    try:
        async with translated():
            if engine.dialect.name == "postgresql":
                await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            else:
                await conn.execution_options(**{READ_ONLY: True})
            yield conn
    finally:
        # Nothing was written: closing rolls the transaction back and returns the connection.
        with suppress(Exception):
            await conn.close()
