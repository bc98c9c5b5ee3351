"""Storage failures reach callers as the project's errors, never as SQLAlchemy's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from bot.errors import Conflict, IntegrityViolation, StorageUnavailable
from db.errors import translate
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.support.store_builders import new_incident


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(
    params=[
        "sqlite-missing-directory",
        "postgres-closed-port",
        pytest.param("postgres-missing-database", marks=pytest.mark.postgres),
    ]
)
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite-missing-directory":
        return f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'firebreak.db'}"
    if request.param == "postgres-closed-port":
        return f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/test"
    url: str = request.getfixturevalue("postgres_url")
    return url.rsplit("/", 1)[0] + "/fb_does_not_exist"


async def test_an_unreachable_database_is_storage_unavailable(unreachable_url: str) -> None:
    store = SqlStore.from_url(unreachable_url)
    try:
        with pytest.raises(StorageUnavailable):
            await store.ping()
        with pytest.raises(StorageUnavailable):
            async with store.transaction() as uow:
                await uow.incidents.open_for_group(new_incident())
    finally:
        await store.close()


async def test_migrating_an_unreachable_database_is_storage_unavailable(
    unreachable_url: str,
) -> None:
    with pytest.raises(StorageUnavailable):
        await upgrade_async(unreachable_url)


async def test_an_unmigrated_database_is_storage_unavailable(database_url: str) -> None:
    store = SqlStore.from_url(database_url)
    try:
        with pytest.raises(StorageUnavailable, match="incidents"):
            async with store.transaction() as uow:
                await uow.incidents.get(1)
    finally:
        await store.close()


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "wrapper", "expected"),
    [
        ("40001", sa_exc.OperationalError, Conflict),
        ("40P01", sa_exc.DBAPIError, Conflict),
        ("23505", sa_exc.IntegrityError, Conflict),
        ("23503", sa_exc.IntegrityError, IntegrityViolation),
        ("57P01", sa_exc.OperationalError, StorageUnavailable),
    ],
)
def test_postgres_error_codes_are_translated(
    sqlstate: str, wrapper: type[sa_exc.DBAPIError], expected: type[Exception]
) -> None:
    error = wrapper("SELECT 1", None, _DriverError(sqlstate))
    assert type(translate(error)) is expected


def test_errors_that_are_not_storage_errors_are_left_alone() -> None:
    assert translate(KeyError("x")) is None
