"""The SQLite inbox writer's worker process: its pipe protocol, and what the bot sees when the
process is stopped, signalled or killed.

The whole intake contract (group commit, a refused batch storing nothing, timestamps reading
back) runs over the worker in ``test_inbox.py``; these tests are about the process itself.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
from collections.abc import AsyncIterator

import msgspec
import pytest

from bot.errors import StorageUnavailable
from db.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS
from db.intake.sqlite import SqliteInboxWriter, sqlite_stamp
from db.intake.sqlite_worker import BatchInserter, frame, read_frame, serve
from db.repositories.deliveries import INBOX_COLUMNS, inbox_row
from db.store import SqlStore
from tests.support.payloads.alertmanager import T0, delivery
from tests.support.sql_store import migrated_store


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[SqlStore]:
    async with migrated_store(sqlite_url) as store:
        yield store


@pytest.fixture
async def writer(store: SqlStore) -> AsyncIterator[SqliteInboxWriter]:
    path = store.engine.url.database
    assert path is not None
    writer = SqliteInboxWriter(path, writer_turn=store.writer_turn)
    yield writer
    await writer.close()


def stored_keys(store: SqlStore) -> list[str]:
    path = store.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as conn:
        return [key for (key,) in conn.execute("SELECT key FROM deliveries ORDER BY id")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def stalled_write(writer: SqliteInboxWriter) -> tuple[int, asyncio.Task[None]]:
    """Store "before", then stop the worker and send "cut": the batch is surely on its way,
    unanswered, when the test kills the worker or cancels the write. The worker's pid and
    the pending write."""
    await writer.write([delivery("before")])
    pid = writer.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    cut = asyncio.create_task(writer.write([delivery("cut")]))
    await asyncio.sleep(0.2)
    assert not cut.done()
    return pid, cut


async def test_a_killed_worker_fails_its_batch_and_the_next_batch_gets_a_new_one(
    store: SqlStore, writer: SqliteInboxWriter
) -> None:
    pid, cut = await stalled_write(writer)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(StorageUnavailable, match="inbox writer stopped"):
        await cut
    await writer.write([delivery("after")])
    assert writer.worker_pid not in (None, pid)
    assert stored_keys(store) == ["before", "after"]


async def test_a_batch_cancelled_mid_exchange_leaves_no_reply_for_the_next_one(
    store: SqlStore, writer: SqliteInboxWriter
) -> None:
    pid, cut = await stalled_write(writer)
    cut.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cut
    # The old worker is gone with its pending reply; the next batch talks to a new one.
    await writer.write([delivery("after")])
    assert writer.worker_pid not in (None, pid)
    assert stored_keys(store) == ["before", "after"]


async def test_the_worker_outlives_the_signals_sent_to_the_whole_process_group(
    store: SqlStore, writer: SqliteInboxWriter
) -> None:
    # Ctrl-C in a terminal and a service manager's stop reach every process of the group;
    # the bot shuts down gracefully and needs its writer until the last batch.
    await writer.write([delivery("one")])
    pid = writer.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    await writer.write([delivery("two")])
    assert writer.worker_pid == pid
    assert stored_keys(store) == ["one", "two"]


async def test_closing_lets_the_worker_exit_and_reaps_it(
    store: SqlStore, writer: SqliteInboxWriter
) -> None:
    await writer.write([delivery("one")])
    pid = writer.worker_pid
    assert pid is not None
    await writer.close()
    assert writer.worker_pid is None
    assert not alive(pid)
    assert stored_keys(store) == ["one"]


async def test_a_batch_is_one_transaction_in_the_worker(
    store: SqlStore, writer: SqliteInboxWriter
) -> None:
    # The unique key refuses the third row: the whole batch is refused, the worker stays.
    await writer.write([delivery("a")])
    pid = writer.worker_pid
    with pytest.raises(StorageUnavailable, match="UNIQUE constraint failed"):
        await writer.write([delivery("b"), delivery("c"), delivery("a")])
    await writer.write([delivery("d")])
    assert writer.worker_pid == pid
    assert stored_keys(store) == ["a", "d"]


def test_frames_round_trip_and_a_cut_frame_is_an_error() -> None:
    stream = io.BytesIO(frame(b"first") + frame(b"") + frame(b"x" * 70_000))
    assert read_frame(stream) == b"first"
    assert read_frame(stream) == b""
    assert read_frame(stream) == b"x" * 70_000
    assert read_frame(stream) is None
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(frame(b"payload")[:-1]))
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(b"\x00\x00"))


async def test_serve_answers_each_request_in_turn(store: SqlStore) -> None:
    # The worker's loop in this process, over byte streams instead of pipes.
    path = store.engine.url.database
    inserter = BatchInserter(
        {
            "path": path,
            "busy_timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "pragmas": list(SQLITE_PRAGMAS),
            "columns": list(INBOX_COLUMNS),
        }
    )
    encode = msgspec.msgpack.encode

    def rows(*keys: str) -> bytes:
        return encode([inbox_row(delivery(k), sqlite_stamp(T0)) for k in keys])

    requests = io.BytesIO(frame(rows("x", "y")) + frame(rows("x")) + frame(rows("z")))
    replies = io.BytesIO()
    try:
        serve(requests, replies, inserter)
    finally:
        inserter.close()
    replies.seek(0)
    answers = []
    while (payload := read_frame(replies)) is not None:
        answers.append(msgspec.msgpack.decode(payload))
    assert answers[0] is None
    assert "UNIQUE constraint failed" in answers[1]
    assert answers[2] is None
    assert stored_keys(store) == ["x", "y", "z"]
