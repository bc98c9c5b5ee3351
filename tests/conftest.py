"""Shared fixtures."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Storage fixtures (db/ owner): database URLs for SQLite and a fresh PostgreSQL database per
# test, and ``store`` over every backend (memory, SQLite, PostgreSQL), migrated and ready.
# ---------------------------------------------------------------------------------------------
import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from db.store import SqlStore
from tests.fakes.memory.store import MemoryStore
from tests.support.postgres import connect
from tests.support.sql_store import migrated_store

POSTGRES_ENV = "FIREBREAK_TEST_POSTGRES_URL"


def _postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = (
        f"{POSTGRES_ENV} is not set; point it at a PostgreSQL server, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests must run in CI: {message}")
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'firebreak.db'}"


def _run_outside_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on a private event loop in a thread, so sync fixtures work inside async tests."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _admin_execute(server_url: str, sql: str) -> None:
    conn = await connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a new, empty database on the test server, dropped after the test.

    Synchronous (its own loop in a thread) so that async fixtures can request it lazily
    through ``request.getfixturevalue``.
    """
    server = _postgres_server_url()
    name = f"fb_{secrets.token_hex(6)}"
    _run_outside_loop(_admin_execute(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        _run_outside_loop(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database's URL, on each SQL backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[MemoryStore | SqlStore]:
    """A ready store on each backend; SQL ones are migrated first."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    async with migrated_store(url) as sql:
        yield sql


@pytest.fixture
async def sql_store(database_url: str) -> AsyncIterator[SqlStore]:
    """A migrated ``SqlStore`` on each SQL backend (no memory store)."""
    async with migrated_store(database_url) as sql:
        yield sql


# ---------------------------------------------------------------------------------------------
# End of storage fixtures.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Core fixtures: the default policy and a clock tests move by hand.
# ---------------------------------------------------------------------------------------------
from bot.clock import FixedClock  # noqa: E402
from bot.policy.file import DEFAULT_POLICY, load_policy  # noqa: E402
from bot.policy.model import Policy  # noqa: E402
from tests.support.payloads.alertmanager import T0  # noqa: E402
from tests.support.policy_files import without_maintenance  # noqa: E402

# Fixtures shared by the tests that talk to the fake PagerDuty.
pytest_plugins = ["tests.fakes.pagerduty.fixtures"]


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The shipped policy without its maintenance windows (``tests/support/policy_files.py``
    says why); ``shipped_policy`` has them."""
    return without_maintenance(load_policy(DEFAULT_POLICY))


@pytest.fixture(scope="session")
def shipped_policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Escape lone surrogates in what a test captured before the report leaves the worker.

    Some tests log text no UTF-8 stream can hold (an undecodable header, say); pytest-xdist
    ships each report to the controller as UTF-8 and a worker dies on such a section.
    """
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]
