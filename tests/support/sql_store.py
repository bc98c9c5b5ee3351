"""A migrated ``SqlStore`` for the length of a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from db.migrate import upgrade_async
from db.store import SqlStore


@asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[SqlStore]:
    """Upgrade the database at ``url`` to the newest schema, then open a store on it."""
    await upgrade_async(url)
    sql = SqlStore.from_url(url)
    try:
        yield sql
    finally:
        await sql.close()
