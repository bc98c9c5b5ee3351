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
        return None if self.process is None else self.process.returncode

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
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
            while line := await self.process.stdout.readline():
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                log.write(text + "\n")
                log.flush()
                if self.echo is not None:
                    self.echo.write(prefix + text + "\n")
                    self.echo.flush()

    async def wait(self) -> int:
        assert self.process is not None
        code = await self.process.wait()
        if self._pump is not None:
            await self._pump
        return code

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
                self._signal_group(signal.SIGKILL)
        self._signal_group(signal.SIGKILL)
        return await self.wait()
