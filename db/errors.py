"""Translate driver and SQLAlchemy errors into the project's exception tree.

Nothing outside ``db/`` should ever see a SQLAlchemy exception: callers act on
``StorageUnavailable`` (answer 503, retry later), ``Conflict`` (retry the transaction now) or
``IntegrityViolation`` (a bug or tampering).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc

from bot.errors import Conflict, FirebreakError, IntegrityViolation, StorageUnavailable

# PostgreSQL SQLSTATEs a retry of the whole transaction can clear.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
_UNIQUE_VIOLATION = "23505"


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def translate(error: BaseException) -> FirebreakError | None:
    """The project error for a library error, or ``None`` if it is not a storage error."""
    if isinstance(error, sa_exc.DBAPIError):
        code = _sqlstate(error)
        message = str(error.orig)
        if code in _RETRYABLE_SQLSTATES:
            return Conflict(f"transaction clashed with another, retry it: {message}")
        if isinstance(error, sa_exc.IntegrityError):
            if code == _UNIQUE_VIOLATION or "UNIQUE constraint failed" in message:
                return Conflict(f"a concurrent writer stored the same key: {message}")
            return IntegrityViolation(f"the database refused the write: {message}")
        return StorageUnavailable(f"database error: {message}")
    if isinstance(error, sa_exc.TimeoutError):
        return StorageUnavailable(f"no database connection became free: {error}")
    if isinstance(error, sa_exc.SQLAlchemyError):
        return StorageUnavailable(f"database error: {error}")
    if isinstance(error, sqlite3.Error | OSError | TimeoutError):
        # Raised while connecting (PRAGMAs, sockets), before SQLAlchemy can wrap them.
        return StorageUnavailable(f"database unreachable: {error!r}")
    if type(error).__module__.startswith("asyncpg"):
        return StorageUnavailable(f"database unreachable: {error!r}")
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Re-raise storage library errors inside the block as project errors."""
    try:
        yield
    except sa_exc.StatementError as error:
        if not isinstance(error, sa_exc.DBAPIError) and isinstance(error.orig, Exception):
            # Raised while SQLAlchemy prepared the statement, before the database saw it: a
            # value the column type refused (a naive datetime, one with no UTC value). It is
            # the caller's data, not an outage, so it keeps its own type; as
            # ``StorageUnavailable`` one bad inbox delivery paused processing of all others.
            raise error.orig from error
        mapped = translate(error)
        if mapped is None:
            raise
        raise mapped from error
    except Exception as error:
        mapped = translate(error)
        if mapped is None:
            raise
        raise mapped from error
