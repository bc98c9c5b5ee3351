"""Apply the Alembic migrations shipped in ``db/migrations`` to a database URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Told of each revision as it is applied: its id and its message.
Applied = Callable[[str, str], None]


def upgrade(url: str, revision: str = "head", *, on_applied: Applied | None = None) -> None:
    """Migrate the database at ``url`` to ``revision``. Not for use inside an event loop."""
    asyncio.run(_upgrade(url, revision, on_applied))


async def upgrade_async(url: str, revision: str = "head") -> None:
    """``upgrade`` for callers already inside an event loop (Alembic's API is synchronous)."""
    await asyncio.to_thread(upgrade, url, revision)


async def _upgrade(url: str, revision: str, on_applied: Applied | None = None) -> None:
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
            await conn.run_sync(_run_alembic, revision, on_applied)
    finally:
        await engine.dispose()


def _run_alembic(connection: Connection, revision: str, on_applied: Applied | None) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if on_applied is not None:

        def applied(*, step: Any, **_: Any) -> None:
            if step.is_upgrade:
                on_applied(step.up_revision_id, step.up_revision.doc.strip().splitlines()[0])

        config.attributes["on_version_apply"] = applied
    command.upgrade(config, revision)
