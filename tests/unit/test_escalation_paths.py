"""The timers a path start makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.escalation import TimerKind
from bot.domain.incident import Severity
from bot.services.escalation.paths import TARGET_LEVEL, path_timers
from tests.support.escalation import P0_PATH

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_one_level_timer_per_level_and_one_target_timer() -> None:
    timers = path_timers(
        7, run=2, severity=Severity.P0, path=P0_PATH, start=START, response_minutes=15
    )
    assert [(t.kind, t.level, t.due_at - START) for t in timers] == [
        (TimerKind.LEVEL, 0, timedelta(0)),
        (TimerKind.LEVEL, 1, timedelta(minutes=15)),
        (TimerKind.LEVEL, 2, timedelta(minutes=30)),
        (TimerKind.LEVEL, 3, timedelta(hours=1)),
        (TimerKind.TARGET, TARGET_LEVEL, timedelta(minutes=15)),
    ]
    assert {(t.incident_id, t.run, t.severity) for t in timers} == {(7, 2, Severity.P0)}


def test_no_path_makes_no_timers_not_even_the_target() -> None:
    assert (
        path_timers(7, run=1, severity=Severity.P2, path=(), start=START, response_minutes=240)
        == []
    )
