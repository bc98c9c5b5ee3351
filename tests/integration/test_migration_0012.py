"""Migration 0012 (storms) on SQLite and PostgreSQL: existing incidents and alert episodes
keep NULL (no storm, not merged, no recorded group), the merge pointer is a foreign key to
incidents, and it downgrades to 0011 and upgrades again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from db.engine import make_engine
from db.migrate import alembic_config, upgrade_async


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _shape(sync: Connection) -> tuple[set[str], set[str], list[tuple[list[str], str]]]:
    inspector = inspect(sync)
    incident_columns = {c["name"] for c in inspector.get_columns("incidents")}
    episode_columns = {c["name"] for c in inspector.get_columns("alert_episodes")}
    keys = [
        (fk["constrained_columns"], fk["referred_table"])
        for fk in inspector.get_foreign_keys("incidents")
    ]
    return incident_columns, episode_columns, keys


async def test_0012_adds_the_storm_columns_and_downgrades_to_0011(database_url: str) -> None:
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            incident_columns, episode_columns, keys = await conn.run_sync(_shape)
        assert {"merged_into", "storm_key"} <= incident_columns
        assert "group_key" in episode_columns
        assert (["merged_into"], "incidents") in keys
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0011")
        async with engine.connect() as conn:
            incident_columns, episode_columns, keys = await conn.run_sync(_shape)
        assert not incident_columns & {"merged_into", "storm_key"}
        assert "group_key" not in episode_columns
        assert keys == []
    finally:
        await engine.dispose()
    await upgrade_async(database_url)
