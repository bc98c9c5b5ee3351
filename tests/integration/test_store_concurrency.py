"""Racing writers: one incident per group key however many transactions race for it."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.incident import IncidentFilter
from bot.errors import Conflict
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.support.sql_store import migrated_store
from tests.support.store_builders import new_incident

RACERS = 25


async def _open(store: SqlStore, group_key: str) -> tuple[int, bool]:
    async with store.transaction() as uow:
        incident, created = await uow.incidents.open_for_group(new_incident(group_key=group_key))
    return incident.id, created


async def _race(stores: list[SqlStore], group_key: str) -> list[tuple[int, bool]]:
    return await asyncio.gather(
        *(_open(store, group_key) for store in stores for _ in range(RACERS))
    )


async def _count(store: SqlStore) -> int:
    async with store.transaction() as uow:
        return len(await uow.incidents.list(IncidentFilter(limit=1000)))


def _assert_one_incident(results: list[tuple[int, bool]]) -> None:
    assert len({incident_id for incident_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1


async def test_concurrent_tasks_on_sqlite_open_one_incident(sqlite_url: str) -> None:
    async with migrated_store(sqlite_url) as store:
        results = await _race([store], "storm")
        assert await _count(store) == 1
    _assert_one_incident(results)


async def test_two_engines_on_one_sqlite_file_open_one_incident(sqlite_url: str) -> None:
    """Separate engines do not share the in-process lock: the file lock decides."""
    async with migrated_store(sqlite_url) as one, migrated_store(sqlite_url) as two:
        results = await _race([one, two], "storm")
        assert await _count(one) == 1
    _assert_one_incident(results)


@pytest.mark.postgres
async def test_two_engines_on_postgres_open_one_incident(postgres_url: str) -> None:
    async with migrated_store(postgres_url) as one, migrated_store(postgres_url) as two:
        results = await _race([one, two], "storm")
        other_key = await _race([one, two], "another")
        assert await _count(two) == 2
    _assert_one_incident(results)
    _assert_one_incident(other_key)


@pytest.mark.postgres
async def test_a_postgres_deadlock_is_a_conflict(postgres_url: str) -> None:
    await upgrade_async(postgres_url)
    store = SqlStore.from_url(postgres_url)
    try:
        first = await _open(store, "a")
        second = await _open(store, "b")
        both_hold_one = asyncio.Barrier(2)

        async def lock_in_order(one: int, two: int) -> None:
            async with store.transaction() as uow:
                await uow.incidents.get(one, for_update=True)
                await both_hold_one.wait()
                await uow.incidents.get(two, for_update=True)

        outcomes = await asyncio.gather(
            lock_in_order(first[0], second[0]),
            lock_in_order(second[0], first[0]),
            return_exceptions=True,
        )
    finally:
        await store.close()
    conflicts = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert len(conflicts) == 1, outcomes
    assert outcomes.count(None) == 1


async def test_concurrent_migrations_apply_once(database_url: str) -> None:
    await asyncio.gather(*(upgrade_async(database_url) for _ in range(3)))
    store = SqlStore.from_url(database_url)
    try:
        results = await _race([store], "after-migration")
    finally:
        await store.close()
    _assert_one_incident(results)
