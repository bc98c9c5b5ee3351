"""The SQLite inbox writer: a whole intake batch in one statement, committed in a process of
its own (``db.intake.sqlite_worker``).

Through SQLAlchemy and aiosqlite one batch cost half a dozen hand-offs between the event loop
and aiosqlite's thread (begin, execute, commit, the pool's reset), each paying for the GIL.
A dedicated thread over the stdlib driver cut that to one call, but the thread still needed
the GIL around every SQLite call, and during an alert storm the event loop holds it almost
all the time: a batch waited about as long for the GIL before it started as it then took to
insert and commit, and intake's closed-loop rate is the batch size over that cycle. The
worker process has a GIL of its own; the bot pays one pipe write and one read a batch
(docs/ingest-benchmark.md, step 8, has the figures).

The worker's connection has the same PRAGMAs as the engine's (WAL, ``synchronous=FULL``),
and each exchange happens under the store's writer turn, so it never races this process's
other connection for SQLite's one write lock. The worker starts with the first batch and
again after it dies; a batch whose exchange broke gets ``StorageUnavailable`` (the senders
retry; Alertmanager's re-sends are harmless, see ``bot.services.incidents.inbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import msgspec

from bot.domain.incident import Delivery
from bot.errors import StorageUnavailable
from db.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS
from db.intake.sqlite_worker import HEADER_BYTES, frame
from db.repositories.deliveries import INBOX_COLUMNS, inbox_row

log = logging.getLogger(__name__)

# How long closing waits for the worker to finish and exit before it is killed.
CLOSE_TIMEOUT_S = 10.0


def sqlite_stamp(at: datetime) -> str:
    """``at`` as ``db.types.UTCDateTime`` stores it on SQLite (naive UTC, microseconds), so
    rows written here read back through the engine like rows it wrote itself; the type's
    own bind processors cost several microseconds a row, which shows in a storm."""
    if at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware one")
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


class SqliteInboxWriter:
    """Commits batches of deliveries to a SQLite file through the worker process."""

    concurrency = 1  # SQLite has one writer

    def __init__(
        self, path: str, *, writer_turn: Callable[[], AbstractAsyncContextManager[object]]
    ) -> None:
        self._writer_turn = writer_turn
        self._config = json.dumps(
            {
                "path": path,
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "pragmas": list(SQLITE_PRAGMAS),
                "columns": list(INBOX_COLUMNS),
            }
        )
        self._worker: asyncio.subprocess.Process | None = None
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(str | None).decode

    @property
    def worker_pid(self) -> int | None:
        """The worker process's id while one runs (for operators and tests)."""
        return self._worker.pid if self._worker is not None else None

    async def write(self, batch: Sequence[Delivery]) -> None:
        request = frame(self._encode([inbox_row(d, sqlite_stamp(d.received_at)) for d in batch]))
        async with self._writer_turn():
            worker = await self._running()
            assert worker.stdin is not None
            assert worker.stdout is not None
            try:
                worker.stdin.write(request)
                await worker.stdin.drain()
                header = await worker.stdout.readexactly(HEADER_BYTES)
                reply = await worker.stdout.readexactly(int.from_bytes(header, "big"))
            except (OSError, asyncio.IncompleteReadError) as exc:
                await self._discard(worker)
                raise StorageUnavailable(
                    f"the SQLite inbox writer stopped (exit status {worker.returncode}); "
                    "the batch may not be stored"
                ) from exc
            except BaseException:
                # Cancelled mid-exchange: its reply would answer the next batch's request.
                # (Reaped by the event loop's child watcher; there is no awaiting here.)
                with contextlib.suppress(ProcessLookupError):
                    worker.kill()
                self._worker = None
                raise
        error = self._decode(reply)
        if error is not None:
            raise StorageUnavailable(f"database error: {error}")

    async def _running(self) -> asyncio.subprocess.Process:
        worker = self._worker
        if worker is not None and worker.returncode is None:
            return worker
        if worker is not None:
            await self._discard(worker)
            log.warning(
                "the SQLite inbox writer exited (status %s); restarting it", worker.returncode
            )
        try:
            self._worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "db.intake.sqlite_worker",
                self._config,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise StorageUnavailable(f"cannot start the SQLite inbox writer: {exc}") from exc
        return self._worker

    async def _discard(self, worker: asyncio.subprocess.Process) -> None:
        if self._worker is worker:
            self._worker = None
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        await worker.wait()

    async def close(self) -> None:
        """Let the worker finish and exit (it commits nothing unasked), then reap it."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        assert worker.stdin is not None
        worker.stdin.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await worker.wait()
        except TimeoutError:
            log.warning("the SQLite inbox writer did not exit; killing it")
            await self._discard(worker)
