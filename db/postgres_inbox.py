"""The PostgreSQL inbox writer: a whole intake batch as one ``COPY`` on a pooled connection.

Through SQLAlchemy's executemany every row of a batch passes its Python-side bind processing
(the timestamp type, the JSON-less blob) and the rendering of a multi-row INSERT; during an
alert storm that per-row cost on the event loop was what limited intake. asyncpg's binary
``COPY`` encodes the rows in C. The connection still comes from the engine's pool, inside a
transaction, so a failed batch stores nothing and errors are translated like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import Delivery
from db.errors import translated
from db.repositories.deliveries import INBOX_COLUMNS, inbox_row


class PostgresInboxWriter:
    """Commits batches of deliveries to PostgreSQL; several may commit at once."""

    # Each batch has its own pooled connection: a batch need not wait for another's commit.
    concurrency = 4

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def write(self, batch: Sequence[Delivery]) -> None:
        records = [inbox_row(d, d.received_at) for d in batch]
        async with translated(), self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            async with driver.transaction():
                await driver.copy_records_to_table(
                    "deliveries", records=records, columns=INBOX_COLUMNS
                )

    async def close(self) -> None:
        """The engine's pool is the store's to close."""
