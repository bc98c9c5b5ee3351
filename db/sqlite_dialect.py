"""The SQLAlchemy dialect for ``db.sqlite_driver``: the pysqlite dialect, made async over
firebreak's own connection through SQLAlchemy's generic asyncio adapter.

SQLAlchemy's aiosqlite dialect reaches into aiosqlite's private attributes (``_tx``,
``_conn``, ``_connection``), so a connection that is not aiosqlite's could only work under it
by imitating them. This dialect uses the generic adapter every SQLAlchemy async dialect is
built on (``sqlalchemy.connectors.asyncio``) and only public members of the driver
(``db.sqlite_driver.LoopConnection``) and of SQLAlchemy (``AdaptedConnection.driver_connection``,
the dialect registry, ``sqlalchemy.util.await_``). Users keep writing ``sqlite+aiosqlite://``
URLs; ``db.engine`` builds the engine as ``sqlite+firebreak://`` with a ``creator`` that opens
a ``LoopConnection``. ``tests/unit/test_dependency_versions.py`` fails if the installed
SQLAlchemy is outside the range this was written against.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import pool
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncAdapt_dbapi_module
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.util import await_

from db.sqlite_driver import IsolationLevel, LoopConnection

# The URL driver name of engines on this dialect (``sqlite+firebreak://``).
DRIVER = "firebreak"


class AdaptedLoopConnection(AsyncAdapt_dbapi_connection):
    """The synchronous DB-API face SQLAlchemy calls (inside its asyncio greenlet) over a
    ``LoopConnection``: the generic adapter plus what the pysqlite dialect also uses."""

    __slots__ = ()

    @property
    def loop_connection(self) -> LoopConnection:
        connection = self.driver_connection
        assert isinstance(connection, LoopConnection)
        return connection

    @property
    def isolation_level(self) -> str | None:
        return self.loop_connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self.loop_connection.isolation_level = cast(IsolationLevel, value)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        await_(self.loop_connection.create_function(*args, **kwargs))

    def rollback(self) -> None:
        if self.loop_connection.is_open:
            super().rollback()

    def commit(self) -> None:
        if self.loop_connection.is_open:
            super().commit()

    def terminate(self) -> None:
        """The pool gave up on the connection: close it, waiting for the close if called
        inside SQLAlchemy's greenlet, and without waiting otherwise (the garbage collector
        reclaiming it) or if the wait fails or is cancelled."""
        try:
            await_(self._close_shielded())
        except MissingGreenlet:
            self.loop_connection.stop()
        except asyncio.CancelledError:
            self.loop_connection.stop()
            raise
        except (TimeoutError, OSError, sqlite3.Error):
            # The connection is being discarded either way; the close is queued instead.
            self.loop_connection.stop()

    async def _close_shielded(self) -> None:
        await asyncio.shield(self.loop_connection.close())


class LoopDBAPI(AsyncAdapt_dbapi_module):
    """The DB-API module the dialect sees: sqlite3's exceptions, types and constants, and a
    ``connect`` that adapts a ``LoopConnection`` (made by the engine's ``creator``)."""

    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        self.paramstyle = "qmark"
        for name in (
            "Error",
            "DatabaseError",
            "IntegrityError",
            "InterfaceError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *_args: Any, **_kwargs: Any) -> AdaptedLoopConnection:
        raise sqlite3.InterfaceError(
            "db.sqlite_dialect connects only through the engine's creator (db.engine)"
        )

    def adapt(self, connection: LoopConnection) -> AdaptedLoopConnection:
        """The DB-API connection SQLAlchemy's pool holds for ``connection``."""
        # SQLAlchemy's protocol for driver connections also declares a catch-all
        # __getattr__, which LoopConnection has no need of.
        return AdaptedLoopConnection(self, cast(Any, connection))


class LoopDialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's pysqlite dialect over ``LoopConnection``, for the asyncio engine."""

    driver = DRIVER
    is_async = True
    has_terminate = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return LoopDBAPI()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def get_driver_connection(self, connection: DBAPIConnection) -> Any:
        assert isinstance(connection, AdaptedLoopConnection)
        return connection.driver_connection

    def do_terminate(self, dbapi_connection: DBAPIConnection) -> None:
        assert isinstance(dbapi_connection, AdaptedLoopConnection)
        dbapi_connection.terminate()


def creator(
    path: str, *, busy_timeout: float, pragmas: Sequence[str] = ()
) -> Callable[[], AdaptedLoopConnection]:
    """The engine's ``creator``: SQLAlchemy's pool calls it inside its asyncio greenlet."""
    dbapi = LoopDBAPI()

    def create() -> AdaptedLoopConnection:
        connection = await_(LoopConnection.open(path, busy_timeout=busy_timeout, pragmas=pragmas))
        return dbapi.adapt(connection)

    return create


registry.register(f"sqlite.{DRIVER}", __name__, "LoopDialect")
