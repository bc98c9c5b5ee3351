"""Apply the Alembic migrations shipped in ``db/migrations`` to a database URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.engine import make_engine
from db.errors import translated

MIGRATIONS = Path(__file__).parent / "migrations"

# pg_advisory_xact_lock key shared by every replica: "firebreak" folded into a bigint.
_ADVISORY_LOCK_KEY = 0x6669726562726561


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``. Not for use inside an event loop."""
    asyncio.run(_upgrade(url, revision))


async def upgrade_async(url: str, revision: str = "head") -> None:
    """``upgrade`` for callers already inside an event loop (Alembic's API is synchronous)."""
    await asyncio.to_thread(upgrade, url, revision)


async def _upgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        async with translated(), engine.begin() as conn:
            # One transaction for all revisions: on SQLite, BEGIN IMMEDIATE excludes other
            # writers; on PostgreSQL the advisory lock makes a second replica wait and then
            # find nothing left to do.
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
            await conn.run_sync(_run_alembic, revision)
    finally:
        await engine.dispose()


def _run_alembic(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
