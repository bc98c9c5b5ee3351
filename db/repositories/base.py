"""What every repository shares: its connection, error translation, dialect-specific INSERT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from db.errors import translated


class Repository:
    """Base of the repositories: all statements run on the unit of work's one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    async def _execute(self, statement: Executable) -> CursorResult[Any]:
        async with translated():
            return await self._conn.execute(statement)

    def _upsert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that understands ON CONFLICT on this connection's dialect."""
        if self._postgres:
            return postgresql.insert(table)
        return sqlite.insert(table)
