"""``db.sqlite_driver``: statements on the event loop, lock waits and commits off it."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import text

from bot.domain.incident import IncidentFilter
from db.migrate import upgrade_async
from db.store import SqlStore


async def test_waiting_for_another_process_write_lock_does_not_block_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "firebreak.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    store = SqlStore.from_url(url)
    async with store.transaction():
        pass  # a pooled connection is ready, so the next transaction goes straight to BEGIN
    # Another process (here: a stdlib connection) holds SQLite's write lock.
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Event()
    released = threading.Thread(target=lambda: (release.wait(30), other.execute("COMMIT")))
    released.start()

    async def write() -> int:
        async with store.transaction() as uow:
            return len(await uow.incidents.list(IncidentFilter()))

    try:
        writer = asyncio.create_task(write())
        for _ in range(100):  # plenty of turns for the writer to reach BEGIN IMMEDIATE
            await asyncio.sleep(0)
        assert not writer.done()
        # Only a loop that is still running gets here and lets the other side go; a
        # BEGIN IMMEDIATE on the loop would block until the busy timeout and fail the test.
        release.set()
        assert await writer == 0
    finally:
        release.set()
        released.join()
        other.close()
        await store.close()


async def test_statements_and_pragmas_through_the_driver(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'firebreak.db'}"
    await upgrade_async(url)
    store = SqlStore.from_url(url)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 2  # FULL
            rows = await conn.execute(text("SELECT value FROM json_each('[1,2,3]')"))
            assert [r.value for r in rows] == [1, 2, 3]
        async with store.transaction() as uow:
            assert await uow.incidents.list(IncidentFilter()) == []
    finally:
        await store.close()


def test_the_driver_is_firebreak_s_own_and_aiosqlite_is_not_needed(tmp_path: Path) -> None:
    # In a fresh interpreter: other tests of this process import aiosqlite themselves.
    script = f"""
import asyncio, sys
from db.migrate import upgrade
from db.store import SqlStore
from bot.domain.incident import IncidentFilter
url = "sqlite+aiosqlite:///{tmp_path / "firebreak.db"}"
upgrade(url)
async def main():
    store = SqlStore.from_url(url)
    try:
        assert store.engine.dialect.driver == "firebreak", store.engine.dialect.driver
        async with store.transaction() as uow:
            assert await uow.incidents.list(IncidentFilter()) == []
    finally:
        await store.close()
asyncio.run(main())
assert "aiosqlite" not in sys.modules, "aiosqlite was imported"
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
