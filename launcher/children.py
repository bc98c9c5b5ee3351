"""Child processes of the launcher: started in their own process group (so a stop reaches
their own children too, e.g. the bot's SQLite writer), their output written to a log file
and echoed to the console with the component's name in front."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

STOP_TIMEOUT_S = 15.0
EXIT_POLL_S = 0.1
CHUNK_BYTES = 64 * 1024
PREFIX_WIDTH = 13
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child SIGTERMed when the launcher dies, even by SIGKILL,
    so a crashed launcher does not leave a Prometheus holding the port the next run needs.
    libc is loaded here, in the parent: the child only makes the one system call."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the launcher's own stop still applies
        return None

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return arm


class Child:
    """One component: ``start`` it, ``stop`` it (SIGTERM to its group, SIGKILL after a
    timeout), read its exit status in ``returncode``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        echo: TextIO | None = sys.stdout,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.echo = echo
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def returncode(self) -> int | None:
        """The exit status; ``None`` while running or before ``start``."""
        return None if self.process is None else self.process.returncode

    @property
    def pid(self) -> int | None:
        """The process id (also its process group's); ``None`` before ``start``."""
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Start the process in its own group and begin copying its output to the log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            # Its own group: Ctrl-C in the terminal reaches the launcher only, which then
            # stops the components in order; and a stop reaches their children as well.
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        self._pump = asyncio.create_task(self._copy_output(), name=f"{self.name}-output")

    async def _copy_output(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        prefix = f"{self.name:<{PREFIX_WIDTH}}| "
        with self.log_path.open("a", encoding="utf-8", errors="replace") as log:
            log.write(f"$ {' '.join(self.argv)}\n")

            def emit(line: bytes) -> None:
                text = line.decode("utf-8", errors="replace")
                log.write(text + "\n")
                log.flush()
                if self.echo is not None:
                    self.echo.write(prefix + text + "\n")
                    self.echo.flush()

            # Chunks, not ``readline``: a line longer than the stream's limit made readline
            # raise, the copy stopped, and the component then blocked on a full pipe.
            pending = b""
            while chunk := await self.process.stdout.read(CHUNK_BYTES):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    emit(line)
                if len(pending) >= CHUNK_BYTES:  # too long to hold: written in pieces
                    emit(pending)
                    pending = b""
            if pending:
                emit(pending)

    async def exited(self) -> int:
        """The exit status once the process has exited, even while something it started
        still holds its output open. Safe to cancel: it never waits on the output copy."""
        assert self.process is not None
        # Polled: ``Process.wait`` (3.11) also waits for the pipes to close, and asyncio
        # gives no event for the exit alone.
        while (code := self.returncode) is None:  # noqa: ASYNC110
            await asyncio.sleep(EXIT_POLL_S)
        return code

    async def wait(self) -> int:
        """The exit status once the process has exited and its output is all copied."""
        assert self.process is not None
        code = await self.process.wait()
        await self._output_copied()
        return code

    async def _output_copied(self) -> None:
        # ``asyncio.wait`` rather than ``await self._pump``: cancelling the caller must not
        # cancel the copy (it did, and a later stop then raised CancelledError), and a copy
        # that was cancelled or failed must not keep a stop from returning.
        if self._pump is None:
            return
        await asyncio.wait({self._pump})
        failed = not self._pump.cancelled() and self._pump.exception() is not None
        if failed and self.echo is not None:
            self.echo.write(
                f"{self.name:<{PREFIX_WIDTH}}| output lost: {self._pump.exception()!r}\n"
            )

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    async def stop(self, grace: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM to the whole group, SIGKILL after ``grace`` seconds; then whatever of the
        group is left is killed too (a child the component failed to stop)."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                pass
            finally:
                # Cancelled during the grace too: nothing of the group is left running.
                self._signal_group(signal.SIGKILL)
        self._signal_group(signal.SIGKILL)
        return await self.wait()


async def stop_all(children: Sequence[Child]) -> list[tuple[Child, Exception]]:
    """Stop every child, last started first, each even when stopping another failed or
    was cancelled; the failures, in order. A cancellation is raised again once all are
    stopped, so the caller's cancel is not lost."""
    failures: list[tuple[Child, Exception]] = []
    cancelled: asyncio.CancelledError | None = None
    for child in reversed(children):
        try:
            await child.stop()
        except asyncio.CancelledError as exc:
            cancelled = cancelled or exc
        except Exception as exc:  # reported; the next child is still stopped
            failures.append((child, exc))
    if cancelled is not None:
        raise cancelled
    return failures


async def first_exit(children: Sequence[Child]) -> Child:
    """The first of ``children`` to exit. It waits on the processes only, so cancelling
    the other waits never reaches a child's output copy (which ``Child.stop`` awaits)."""
    waits = {asyncio.ensure_future(child.exited()): child for child in children}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return waits[next(iter(done))]
    finally:
        for future in waits:
            future.cancel()
