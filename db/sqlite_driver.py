"""firebreak's SQLite driver: an asyncio connection that runs statements on the event loop.

aiosqlite runs every call on a thread of its own and hands the result back through the
event loop: for one delivery's dozens of statements that hand-off, not SQLite, was the cost
(the loop sat idle in ``epoll`` most of the time; docs/ingest-benchmark.md, step 6). SQLite
statements inside a transaction are in-memory B-tree work that takes microseconds, so here
they run directly on the calling thread. The calls that can block are the ones that wait
for another process or for the disk: ``BEGIN IMMEDIATE`` (the write lock, up to the busy
timeout), ``COMMIT`` (the WAL fsync, ``synchronous=FULL``) and ``ROLLBACK``. Those go to a
worker thread, so the event loop never waits on a lock or a disk.

The connection and cursor have the asyncio DB-API shape SQLAlchemy adapts for every async
driver (``cursor``, ``execute``, ``fetch*``, ``commit``, ``rollback``, ``close``: coroutines);
``db.sqlite_dialect`` is the dialect that adapts them, so no library's private attributes are
involved on either side. ``tests/integration/test_store_*`` run the whole storage contract
over it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

# What sqlite3 accepts (None: no implicit transactions, as firebreak runs it).
IsolationLevel = Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None
# Statements that may wait on another connection's lock or on the disk.
_BLOCKING_PREFIXES = ("BEGIN", "COMMIT", "END", "ROLLBACK")


def _blocking(operation: str) -> bool:
    head = operation.lstrip()[:8].upper()
    return head.startswith(_BLOCKING_PREFIXES) and not head.startswith("ROLLBACK TO")


def prepare(conn: sqlite3.Connection, pragmas: Sequence[str], *, busy_timeout: float) -> None:
    """Run the connection's PRAGMAs (blocking: call it off the event loop).

    Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, when connections race to do it (several
    replicas or ``db upgrade`` starting together on a fresh file); so retry for as long as
    the busy timeout would have waited. Once in WAL mode the PRAGMA takes no lock.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.005
    for pragma in pragmas:
        while True:
            try:
                conn.execute(pragma)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)


def connect(path: str, *, busy_timeout: float, pragmas: Sequence[str]) -> sqlite3.Connection:
    """A stdlib connection with firebreak's settings (blocking: call it off the event loop).

    No implicit transactions (callers issue ``BEGIN IMMEDIATE``), usable from the thread that
    owns it as well as the loop's, and its PRAGMAs applied (``prepare``).
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        prepare(conn, pragmas, busy_timeout=busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


class LoopCursor:
    """An asyncio cursor over a stdlib cursor; see the module docstring."""

    def __init__(self, owner: LoopConnection) -> None:
        self._owner = owner
        self._cursor = owner._sqlite.cursor()

    async def __aenter__(self) -> LoopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, operation: str, parameters: Any = ()) -> LoopCursor:
        if _blocking(operation):
            await self._owner.off_loop(self._cursor.execute, operation, parameters)
        else:
            self._cursor.execute(operation, parameters)
        return self

    async def executemany(self, operation: str, seq_of_parameters: Iterable[Any]) -> LoopCursor:
        self._cursor.executemany(operation, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *_sizes: Any) -> None:
        """PEP 249 allows doing nothing here, as sqlite3 does."""

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class LoopConnection:
    """An asyncio connection over a stdlib connection; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self._sqlite = conn
        self._open = True
        self._thread = thread

    @classmethod
    async def open(
        cls, path: str, *, busy_timeout: float, pragmas: Sequence[str] = ()
    ) -> LoopConnection:
        """Connect and run ``pragmas`` on the connection's own thread."""
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-io")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(
                thread, lambda: connect(path, busy_timeout=busy_timeout, pragmas=pragmas)
            )
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(conn, thread)

    async def off_loop(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run a call that may block (locks, fsync) on this connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    def cursor(self, *_args: Any, **_kwargs: Any) -> LoopCursor:
        return LoopCursor(self)

    async def execute(self, operation: str, parameters: Sequence[Any] = ()) -> LoopCursor:
        cursor = LoopCursor(self)
        return await cursor.execute(operation, parameters)

    async def commit(self) -> None:
        await self.off_loop(self._sqlite.commit)

    async def rollback(self) -> None:
        await self.off_loop(self._sqlite.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._sqlite.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        # Set on the calling thread: connections are opened with check_same_thread=False,
        # and firebreak sets it once, right after connecting, outside any transaction.
        self._sqlite.isolation_level = value

    @property
    def is_open(self) -> bool:
        """False once ``close`` or ``stop`` was called."""
        return self._open

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            await self.off_loop(self._sqlite.close)
        finally:
            self._thread.shutdown(wait=False)

    def stop(self) -> None:
        """Forced termination (the pool gave up on the connection): close without waiting.

        The close is queued on the connection's own thread rather than run here: that thread
        may be inside a call on this connection (a commit, a lock wait), and closing a sqlite3
        connection from one thread while another uses it can crash the interpreter.
        """
        if not self._open:
            return  # close() or an earlier stop() already queued the close
        self._open = False
        self._thread.submit(self._sqlite.close)
        self._thread.shutdown(wait=False)
