"""What every repository shares: its connection, error translation, dialect-specific INSERT.

Statements are built once and run with parameters. Building one per call (``.values(...)``,
``.where(col == value)``, ``.on_conflict_do_nothing(...)``) makes SQLAlchemy construct a new
statement object and compute its cache key every time, which cost more CPU than the database
spent on a delivery. So the repositories keep module-level statements whose changing values
are ``bindparam``s (typed by the column they are compared with or inserted into), and build
the dialect-specific ones (ON CONFLICT, row locks) once per dialect through ``functools.cache``.
Only statements whose shape depends on the arguments (optional filters) are built per call.
In an UPDATE, a parameter of the WHERE clause is never named after a column of the table:
SQLAlchemy takes a parameter with a column's name as a value for the SET clause.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from db.errors import translated
from db.unit_state import RowsSink, UnitState

POSTGRESQL = "postgresql"


def upsert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that understands ON CONFLICT on the named dialect."""
    if dialect == POSTGRESQL:
        return postgresql.insert(table)
    return sqlite.insert(table)


class Repository:
    """Base of the repositories: all statements run on the unit of work's one connection, and
    share its ``UnitState`` (held-back writes, what the transaction knows: ``db.unit_state``).

    Before a statement runs, the writes held back for the tables it reads are sent: every
    table unless the caller names them (``reads``), so a read always sees the transaction's
    own writes."""

    def __init__(self, conn: AsyncConnection, state: UnitState | None = None) -> None:
        self._conn = conn
        self._dialect = conn.dialect.name
        self._postgres = self._dialect == POSTGRESQL
        self._state = state if state is not None else UnitState()
        # SQLite runs one transaction at a time (BEGIN IMMEDIATE): whatever this one read,
        # nobody else can change before it ends.
        self._exclusive = not self._postgres

    async def _execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | None = None,
        *,
        reads: Collection[str] | None = None,
    ) -> CursorResult[Any]:
        await self._state.held.flush(self._conn, reads)
        async with translated():
            return await self._conn.execute(statement, params)

    async def _execute_many(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        """One statement over many parameter sets (``executemany``)."""
        await self._state.held.flush(self._conn)
        async with translated():
            await self._conn.execute(statement, rows)

    def _hold(
        self, table: str, statement: Executable, row: dict[str, Any], sink: RowsSink | None = None
    ) -> None:
        """Hold a write back until ``table`` is next read, or the commit (``db.unit_state``)."""
        self._state.held.add(table, statement, row, sink)
