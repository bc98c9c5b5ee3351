"""Migration 0014: the storm-key index holds only storms, so the storm-candidate query (run
once per inbox batch) reads the service index instead of every incident ever opened; and it
downgrades to 0013 and upgrades again. Checked on SQLite by its query plan, and on both
backends by the index's predicate."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from db.engine import make_engine
from db.migrate import alembic_config, upgrade_async

CANDIDATES = (
    "SELECT id FROM incidents WHERE created_at >= :since AND group_key IS NOT NULL "
    "AND source = 'alertmanager' AND storm_key IS NULL AND merged_into IS NULL "
    "AND service IN ('a', 'b') ORDER BY id"
)
OPEN_STORMS = "SELECT id FROM incidents WHERE storm_key IS NOT NULL AND status != 'resolved'"


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _storm_index_where(sync: Connection) -> str | None:
    (index,) = [
        i for i in inspect(sync).get_indexes("incidents") if i["name"] == "ix_incidents_storm_key"
    ]
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return None if where is None else str(where)


async def test_0014_indexes_only_storms_and_downgrades_to_0013(database_url: str) -> None:
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            where = await conn.run_sync(_storm_index_where)
        assert where is not None
        assert "storm_key IS NOT NULL" in where.replace("(", "").replace(")", "")
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0013")
        async with engine.connect() as conn:
            assert await conn.run_sync(_storm_index_where) is None
    finally:
        await engine.dispose()
    await upgrade_async(database_url)


async def test_sqlite_plans_the_batch_storm_queries_on_their_indexes(sqlite_url: str) -> None:
    await upgrade_async(sqlite_url)
    engine = make_engine(sqlite_url)
    since = datetime(2026, 12, 7, tzinfo=UTC)
    try:
        async with engine.connect() as conn:
            candidates = await conn.execute(
                text(f"EXPLAIN QUERY PLAN {CANDIDATES}"), {"since": since}
            )
            storms = await conn.execute(text(f"EXPLAIN QUERY PLAN {OPEN_STORMS}"))
            candidate_plan = " ".join(row[-1] for row in candidates)
            storm_plan = " ".join(row[-1] for row in storms)
    finally:
        await engine.dispose()
    assert "ix_incidents_service_created_at" in candidate_plan
    assert "ix_incidents_storm_key" in storm_plan
