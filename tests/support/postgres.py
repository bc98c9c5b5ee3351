"""A plain asyncpg connection to a test database, for what the store does not expose."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url


async def connect(url: str, *, database: str | None = None) -> asyncpg.Connection:
    """Connect to the database ``url`` names, or to ``database`` on the same server."""
    parsed = make_url(url)
    return await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=database or parsed.database,
    )
