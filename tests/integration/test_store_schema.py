"""SQL-only storage checks: SQLite settings, the append-only triggers, migrations vs tables."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.errors import IntegrityViolation
from db.engine import SQLITE_BUSY_TIMEOUT_MS
from db.errors import translated
from db.migrate import alembic_config, upgrade_async
from db.store import SqlStore
from db.tables import incidents, metadata, timeline
from tests.support.store_builders import T0, new_incident


async def test_sqlite_runs_with_wal_full_sync_busy_timeout_and_foreign_keys(
    sqlite_url: str,
) -> None:
    await upgrade_async(sqlite_url)
    store = SqlStore.from_url(sqlite_url)
    try:
        async with store.engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        await store.close()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
    }


async def test_sqlite_transactions_take_the_write_lock_up_front(sqlite_url: str) -> None:
    await upgrade_async(sqlite_url)
    store = SqlStore.from_url(sqlite_url)
    try:
        async with store.engine.connect() as conn:
            await conn.execute(select(1))
            # Under BEGIN IMMEDIATE even a read-only transaction holds the write lock, so a
            # writer that does not wait is refused at once.
            path = sqlite_url.removeprefix("sqlite+aiosqlite:///")
            async with aiosqlite.connect(path, timeout=0, isolation_level=None) as other:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    await other.execute("BEGIN IMMEDIATE")
    finally:
        await store.close()


async def _timeline_row(store: SqlStore) -> int:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        await uow.timeline.append(
            incident.id, at=T0, actor=Actor.parse("bot"), event=Note(text="opened")
        )
    return incident.id


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(update(timeline).values(actor="mallory"), id="update"),
        pytest.param(delete(timeline), id="delete"),
    ],
)
async def test_the_timeline_refuses_updates_and_deletes(
    sql_store: SqlStore, statement: Any
) -> None:
    incident_id = await _timeline_row(sql_store)
    with pytest.raises(sa_exc.IntegrityError, match="append-only"):
        async with sql_store.engine.begin() as conn:
            await conn.execute(statement)
    async with sql_store.transaction() as uow:
        (entry,) = await uow.timeline.for_incident(incident_id)
    assert str(entry.actor) == "bot"


async def test_a_refused_timeline_edit_surfaces_as_integrity_violation(sql_store: SqlStore) -> None:
    await _timeline_row(sql_store)
    with pytest.raises(IntegrityViolation, match="append-only"):
        async with sql_store.engine.begin() as conn, translated():
            await conn.execute(update(timeline).values(kind="edited"))


@pytest.mark.postgres
async def test_postgres_timeline_refuses_truncate(postgres_url: str) -> None:
    await upgrade_async(postgres_url)
    store = SqlStore.from_url(postgres_url)
    try:
        await _timeline_row(store)
        with pytest.raises(sa_exc.IntegrityError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text("TRUNCATE timeline CASCADE"))
    finally:
        await store.close()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_produce_exactly_the_tables(sql_store: SqlStore) -> None:
    async with sql_store.engine.connect() as conn:
        diff = await conn.run_sync(_schema_diff)
    assert diff == []


def _incident_row(group_key: str | None, status: str) -> dict[str, Any]:
    return {
        "title": "t",
        "severity": "P1",
        "status": status,
        "source": "alertmanager",
        "service": "s",
        "scenario": "x",
        "response_minutes": 60,
        "group_key": group_key,
        "labels": {},
        "created_at": T0,
        "updated_at": T0,
    }


async def test_the_schema_allows_one_open_incident_per_group(sql_store: SqlStore) -> None:
    """compare_metadata ignores index predicates, so check the partial index's effect."""
    async with sql_store.engine.begin() as conn:
        for status in ("resolved", "resolved", "triggered"):
            await conn.execute(insert(incidents).values(_incident_row("g", status)))
        for _ in range(2):
            await conn.execute(insert(incidents).values(_incident_row(None, "triggered")))
    with pytest.raises(sa_exc.IntegrityError):
        async with sql_store.engine.begin() as conn:
            await conn.execute(insert(incidents).values(_incident_row("g", "acknowledged")))
    async with sql_store.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(incidents))).scalar_one()
    assert count == 5


async def test_upgrading_twice_is_harmless(database_url: str) -> None:
    await upgrade_async(database_url)
    await upgrade_async(database_url)
    store = SqlStore.from_url(database_url)
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await store.close()
    assert version == [(ScriptDirectory.from_config(alembic_config()).get_current_head(),)]
