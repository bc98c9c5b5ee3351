"""The SQLite inbox writer's process: commits intake batches sent to it over a pipe.

    python -m db.intake.sqlite_worker CONFIG_JSON

``db.intake.sqlite.SqliteInboxWriter`` starts it and is its only client. Why a process: a
thread of the bot's own process needs the GIL before and after every SQLite call, and during
an alert storm the event loop holds it almost all the time, answering acknowledgements; the
thread's batch spent a large share of its commit cycle waiting for the GIL (figures in
docs/ingest-benchmark.md, step 8). This process has a GIL of its own, so a batch costs the
bot only a pipe write and a pipe read.

The protocol is one request, then one reply, in turn: each frame is an 8-byte big-endian
length and a msgpack document. A request is a list of rows (the values of
``db.repositories.deliveries.INBOX_COLUMNS``, timestamps already as SQLite text); a reply is
``nil`` once the rows are committed, or the error as text, in which case none were stored.
The process ends when its standard input ends (the bot closed it or died), after answering
what it had read. It ignores SIGINT and SIGTERM, which a terminal or a service manager sends
to the bot's whole process group: the bot shuts down gracefully and closes the pipe itself.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from typing import IO, Any

import msgspec

from db.sqlite_driver import connect

HEADER_BYTES = 8


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload, or ``None`` at the end of the stream."""
    header = _read_exactly(stream, HEADER_BYTES)
    if header is None:
        return None
    payload = _read_exactly(stream, int.from_bytes(header, "big"))
    if payload is None:
        raise EOFError("the stream ended inside a frame")
    return payload


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    missing = size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            if missing == size:
                return None
            raise EOFError("the stream ended inside a frame")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def frame(payload: bytes) -> bytes:
    """``payload`` with its length header."""
    return len(payload).to_bytes(HEADER_BYTES, "big") + payload


class BatchInserter:
    """Inserts whole batches on one connection, each batch one statement and so one commit."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._path: str = config["path"]
        self._busy_timeout: float = config["busy_timeout"]
        self._pragmas: list[str] = config["pragmas"]
        columns: list[str] = config["columns"]
        # The column names are INBOX_COLUMNS, sent by the bot: constants, not input.
        self._head = f"INSERT INTO deliveries ({', '.join(columns)}) VALUES "  # noqa: S608
        self._row = "(" + ", ".join("?" * len(columns)) + ")"
        self._conn: sqlite3.Connection | None = None

    def insert(self, rows: list[list[Any]]) -> str | None:
        """Commit ``rows``; the error as text if none were stored."""
        try:
            if self._conn is None:
                # Connected on first use and again after a failure, so a database that was
                # unreachable for a while is picked up again without a new process.
                self._conn = connect(
                    self._path, busy_timeout=self._busy_timeout, pragmas=self._pragmas
                )
            # One statement outside BEGIN is a transaction of its own: SQLite commits all of
            # its rows or, on any error, none; 8 parameters a row stays far below SQLite's
            # 32,766 limit for a whole batch.
            statement = self._head + ", ".join([self._row] * len(rows))
            self._conn.execute(statement, [value for row in rows for value in row])
        except sqlite3.Error as exc:
            self.close()
            return f"{type(exc).__name__}: {exc}"
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def serve(requests: IO[bytes], replies: IO[bytes], inserter: BatchInserter) -> None:
    """Answer every request on ``requests`` until it ends."""
    decode = msgspec.msgpack.Decoder(list[list[Any]]).decode
    encode = msgspec.msgpack.Encoder().encode
    while (payload := read_frame(requests)) is not None:
        replies.write(frame(encode(inserter.insert(decode(payload)))))
        replies.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config = json.loads(argv[1])
    # The replies get standard output's pipe to themselves; anything a library prints goes
    # to standard error, where it cannot corrupt a frame.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    inserter = BatchInserter(config)
    try:
        serve(sys.stdin.buffer, replies, inserter)
    finally:
        inserter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
