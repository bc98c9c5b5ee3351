"""The SQLite inbox writer: a whole intake batch in one call on a thread of its own.

Through SQLAlchemy and aiosqlite one batch costs half a dozen hand-offs between the event
loop and aiosqlite's thread (begin, execute, commit, the pool's reset), each paying for the
GIL; during an alert storm that fixed cost, not the rows, was what limited intake. Here the
batch is one multi-row ``INSERT``, committed by itself, in a single call on a dedicated
thread over the stdlib driver, and the fsync of its commit releases the GIL.
The connection has the same PRAGMAs as the engine's (WAL, ``synchronous=FULL``), and the
caller holds the store's writer turn, so it never races this process's other connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from bot.domain import Delivery
from db.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS
from db.errors import translated
from db.repositories.deliveries import INBOX_COLUMNS, inbox_row
from db.sqlite_driver import connect

_INSERT = f"INSERT INTO deliveries ({', '.join(INBOX_COLUMNS)}) VALUES "  # noqa: S608 - constant names
_ROW = "(" + ", ".join("?" * len(INBOX_COLUMNS)) + ")"
# One multi-row INSERT rather than executemany: the stdlib driver releases and re-takes the
# GIL around every step, and each re-take can wait for the busy event loop thread (the
# switch interval is 5 ms); one statement is one step. 8 parameters a row stays far below
# SQLite's 32,766 limit for a whole batch.


def sqlite_stamp(at: datetime) -> str:
    """``at`` as ``db.types.UTCDateTime`` stores it on SQLite (naive UTC, microseconds), so
    rows written here read back through the engine like rows it wrote itself; the type's
    own bind processors cost several microseconds a row, which shows in a storm."""
    if at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware one")
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


class SqliteInboxWriter:
    """Commits batches of deliveries to a SQLite file; ``write`` is safe to await from the loop."""

    concurrency = 1  # SQLite has one writer

    def __init__(
        self, path: str, *, writer_turn: Callable[[], AbstractAsyncContextManager[object]]
    ) -> None:
        self._path = path
        self._writer_turn = writer_turn
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def write(self, batch: Sequence[Delivery]) -> None:
        rows = [inbox_row(d, sqlite_stamp(d.received_at)) for d in batch]
        loop = asyncio.get_running_loop()
        async with self._writer_turn(), translated():
            await loop.run_in_executor(self._thread, self._write, rows)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(
                self._path, busy_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, pragmas=SQLITE_PRAGMAS
            )
        return self._conn

    def _write(self, rows: list[tuple[object, ...]]) -> None:
        conn = self._connection()
        statement = _INSERT + ", ".join([_ROW] * len(rows))
        flat = [value for row in rows for value in row]
        # One statement outside BEGIN is a transaction of its own: SQLite commits all of its
        # rows or, on any error, none. BEGIN IMMEDIATE would add nothing (there is no read to
        # upgrade) but two more statements, and each re-takes the GIL from a busy event loop
        # (bench.ingest: ~0.2 ms more per batch of 32, ~8 % fewer acks/s).
        conn.execute(statement, flat)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
