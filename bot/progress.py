"""Progress of long commands (benchmarks, migrations): a live bar on a terminal, and a few
plain lines when the output goes to a file or a CI log, where a bar's redraws would be noise.

On a terminal it is rich's progress bar (done of total, elapsed, time left). Elsewhere it writes
one line when the work starts, at most one every ``every_s`` seconds while it goes on, and one
when it ends: ``label: 1200/2000 (60%), 14.2 s``. Either way the output goes to ``stream``
(standard error by default), so the results a command prints on standard output stay clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


def on_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress of one piece of work of ``total`` steps (``None``: unknown), as a context
    manager: ``with Progress("drain", 2000) as p: ... p.advance()``."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: TextIO | None = None,
        every_s: float = 15.0,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._every_s = every_s
        self._clock = clock
        self._terminal = on_terminal(self._stream) if terminal is None else terminal
        self._started = 0.0
        self._next_line = 0.0
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Progress:
        self._started = self._clock()
        if self._terminal:
            console = Console(file=self._stream, force_terminal=True)
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        else:
            self._line()
            self._next_line = self._started + self._every_s
        return self

    def advance(self, steps: int = 1) -> None:
        """``steps`` more are done."""
        self.update(self.done + steps)

    def update(self, done: int) -> None:
        """``done`` steps are done in all (a count read from elsewhere, such as a counter)."""
        self.done = done
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done)
            return
        now = self._clock()
        if now >= self._next_line:
            self._line()
            self._next_line = now + self._every_s

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            return
        self._line(" (stopped)" if kind is not None else " done")

    def _line(self, end: str = "") -> None:
        elapsed = self._clock() - self._started
        if self.total:
            count = f"{self.done}/{self.total} ({100 * self.done // self.total}%)"
        else:
            count = str(self.done)
        print(f"{self.label}: {count}, {elapsed:.1f} s{end}", file=self._stream, flush=True)
