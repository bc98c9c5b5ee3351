"""The PostgreSQL inbox writer: a whole intake batch as one ``COPY`` on a connection of its own.

Through SQLAlchemy's executemany every row of a batch passes its Python-side bind processing
and the rendering of a multi-row INSERT; asyncpg's binary ``COPY`` encodes the rows in C. The
connections are the writer's own rather than the engine's pool: a pooled checkout adds a
ping, and a transaction around the ``COPY`` adds ``BEGIN``, ``COMMIT`` and the pool's reset,
five round trips a batch where the ``COPY`` alone is one (plus its data). During an alert storm
those round trips, each a wake-up of the event loop and of a PostgreSQL backend, were most of
what a batch cost (bench.ingest). Outside a transaction the ``COPY`` is a transaction of its
own: PostgreSQL commits every row of the batch or, on any error, none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.incident import Delivery
from db.engine import POSTGRES_CONNECT_TIMEOUT_S
from db.errors import translated
from db.repositories.deliveries import INBOX_COLUMNS, inbox_row


class PostgresInboxWriter:
    """Commits batches of deliveries to PostgreSQL, each on a connection of the writer's own."""

    # One batch in flight, like SQLite: batches then grow with the load and PostgreSQL's
    # per-statement and per-commit cost is shared by more rows. Where the database server
    # shares the cores with the bot, bigger batches beat parallel ones (docs/ingest-benchmark.md,
    # step 9, has the closed-loop figures for 1, 2 and 4 in flight).
    concurrency = 1

    def __init__(self, engine: AsyncEngine) -> None:
        # The engine's own reading of its URL (host, port, user, options such as ssl), so the
        # writer connects exactly where and how the rest of the store does.
        _, args = engine.dialect.create_connect_args(engine.url)
        self._connect_args: dict[str, Any] = {"timeout": POSTGRES_CONNECT_TIMEOUT_S, **args}
        self._idle: list[asyncpg.Connection[Any]] = []

    async def write(self, batch: Sequence[Delivery]) -> None:
        records = [inbox_row(d, d.received_at) for d in batch]
        async with translated():
            conn = await self._connection()
            try:
                await conn.copy_records_to_table(
                    "deliveries", records=records, columns=INBOX_COLUMNS
                )
            except BaseException:
                # A connection that failed or was interrupted mid-COPY may be in any state;
                # the next batch gets a fresh one.
                conn.terminate()
                raise
            self._idle.append(conn)

    async def _connection(self) -> asyncpg.Connection[Any]:
        while self._idle:
            conn = self._idle.pop()
            # The server may have closed it since (a restart, an idle timeout, an operator's
            # pg_terminate_backend): known dead, it is replaced rather than failing a batch.
            if not conn.is_closed():
                return conn
        fresh: asyncpg.Connection[Any] = await asyncpg.connect(**self._connect_args)
        return fresh

    async def close(self) -> None:
        """Close the idle connections (the inbox waits for batches in flight first)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.close(timeout=POSTGRES_CONNECT_TIMEOUT_S)
            except Exception:
                conn.terminate()
