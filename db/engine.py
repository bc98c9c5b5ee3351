"""Engines for the two supported databases, configured for durability and concurrency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError
from db import sqlite_dialect

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Every SQLite connection firebreak opens runs these first (outside any transaction).
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
)
# An execution option for connections that only read (``db.snapshots``): on SQLite they begin
# with a deferred BEGIN, which reads a snapshot of the WAL without taking the write lock.
READ_ONLY = "firebreak_read_only"
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 10
POSTGRES_CONNECT_TIMEOUT_S = 10


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs.

    SQLite runs in WAL mode with ``synchronous=FULL`` (a committed delivery survives power
    loss), a busy timeout, foreign keys enforced, and every transaction opened with
    ``BEGIN IMMEDIATE`` so writers queue on the lock up front instead of failing when a read
    transaction tries to upgrade to a write (connections marked ``READ_ONLY``, which never
    write, begin deferred).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            raise ConfigError(f"SQLite URLs must use the aiosqlite driver: {parsed!r}")
        # The URL names aiosqlite (the setting users write); the engine runs on firebreak's
        # own driver and dialect, registered as `sqlite+firebreak`: see db.sqlite_dialect.
        engine = create_async_engine(
            parsed.set(drivername=f"sqlite+{sqlite_dialect.DRIVER}"),
            creator=_sqlite_creator(parsed.database),
            json_serializer=_json_text,
            json_deserializer=msgspec.json.decode,
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "asyncpg":
            raise ConfigError(f"PostgreSQL URLs must use the asyncpg driver: {parsed!r}")
        return create_async_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_timeout=POSTGRES_CONNECT_TIMEOUT_S,
            connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
            json_serializer=_json_text,
            json_deserializer=msgspec.json.decode,
        )
    raise ConfigError(f"unsupported database URL (use SQLite or PostgreSQL): {parsed!r}")


def _json_text(value: Any) -> str:
    # JSON columns (labels, timeline bodies, outbox calls) are encoded for every row written:
    # msgspec does it several times faster than the json module, to the same JSON.
    return msgspec.json.encode(value).decode()


def _sqlite_creator(database: str | None) -> Callable[[], Any]:
    if not database or database == ":memory:":
        raise ConfigError("firebreak needs a SQLite database file, not an in-memory database")
    # Statements run on the event loop, waits for locks and fsyncs on a thread: see
    # db.sqlite_driver for why aiosqlite's own connection is not used.
    return sqlite_dialect.creator(
        database, busy_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, pragmas=SQLITE_PRAGMAS
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides the mode.
        # (The PRAGMAs already ran when the connection opened: LoopConnection.open.)
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        reads_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")
