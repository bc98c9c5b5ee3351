"""Progress of long commands: plain, rate-limited lines off a terminal; a bar on one."""

from __future__ import annotations

import io

import pytest

from bot.progress import Progress


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_it_writes_a_line_at_start_every_interval_and_at_the_end() -> None:
    out, clock = io.StringIO(), Ticks()
    with Progress("drain", 2000, stream=out, every_s=15.0, clock=clock) as progress:
        for _ in range(10):
            clock.now += 2.0  # 20 s in all: one line in between, not one per step
            progress.advance(100)
    assert out.getvalue().splitlines() == [
        "drain: 0/2000 (0%), 0.0 s",
        "drain: 800/2000 (40%), 16.0 s",
        "drain: 1000/2000 (50%), 20.0 s done",
    ]


def test_an_unknown_total_and_a_failure_say_so() -> None:
    out, clock = io.StringIO(), Ticks()

    def work() -> None:
        with Progress("wait", None, stream=out, clock=clock) as p:
            p.update(7)
            clock.now += 1.5
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        work()
    assert out.getvalue().splitlines()[-1] == "wait: 7, 1.5 s (stopped)"


def test_on_a_terminal_it_draws_a_bar_with_the_count() -> None:
    out = io.StringIO()
    with Progress("drain", 50, stream=out, terminal=True) as progress:
        progress.update(50)
    shown = out.getvalue()
    assert "drain" in shown
    assert "50/50" in shown
    assert "\x1b[" in shown  # drawn with terminal escapes, not plain lines
