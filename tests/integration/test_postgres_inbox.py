"""The PostgreSQL inbox writer's own connections: what a sender sees when the server drops
them (a restart, an idle timeout, an operator's ``pg_terminate_backend``).

The intake contract itself runs on PostgreSQL in ``test_inbox.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text

from bot.services.incidents.intake_pressure import IntakePressure
from db.intake.inbox import SqlInbox
from db.store import SqlStore
from db.tables import deliveries
from tests.support.payloads.alertmanager import delivery
from tests.support.sql_store import migrated_store

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    async with migrated_store(postgres_url) as store:
        yield store


async def stored_keys(store: SqlStore) -> list[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(deliveries.c.key).order_by(deliveries.c.id))
        return [key for (key,) in rows]


async def terminate_other_backends(store: SqlStore) -> int:
    async with store.engine.connect() as conn:
        killed = await conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return int(killed.scalar_one())


async def test_a_connection_the_server_dropped_is_replaced_before_use(store: SqlStore) -> None:
    inbox = SqlInbox(store, pressure=IntakePressure())
    try:
        await inbox.accept(delivery("before"))
        assert await terminate_other_backends(store) >= 1
        await asyncio.sleep(0.1)  # the server's goodbye reaches the writer's connection
        # The writer's connection is known dead by now: it is replaced before use, so no
        # sender hears about it.
        await inbox.accept(delivery("during"))
        await inbox.accept(delivery("after"))
        assert await stored_keys(store) == ["before", "during", "after"]
    finally:
        await inbox.close()
