"""The pace arithmetic (``bot.domain.outbox.Pace``) and Slack's rate tiers as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.outbox import Pace
from bot.integrations.slack.pacing import slack_pace

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def test_without_burst_one_call_per_interval() -> None:
    pace = Pace("k", 3.0)
    assert pace.take(None, NOW) == (None, NOW + seconds(3))
    assert pace.take(NOW + seconds(3), NOW + seconds(2.9)) == (NOW + seconds(3), NOW + seconds(3))
    assert pace.take(NOW + seconds(3), NOW + seconds(3)) == (None, NOW + seconds(6))
    # After a quiet spell the slot does not bank the unused time.
    assert pace.take(NOW + seconds(6), NOW + seconds(60)) == (None, NOW + seconds(63))


def test_a_burst_then_the_interval() -> None:
    pace = Pace("k", 1.0, burst=3)
    due: datetime | None = None
    for expected in (1, 2, 3):
        busy, due = pace.take(due, NOW)
        assert (busy, due) == (None, NOW + seconds(expected))
    assert pace.take(due, NOW) == (NOW + seconds(1), NOW + seconds(3))
    assert pace.take(due, NOW + seconds(1)) == (None, NOW + seconds(4))


def test_a_hold_lets_nothing_leave_before_it_and_never_shortens_a_wait() -> None:
    pace = Pace("k", 1.0, burst=3)
    held = pace.held(None, NOW + seconds(10))
    assert pace.take(held, NOW + seconds(9.9))[0] == NOW + seconds(10)
    assert pace.take(held, NOW + seconds(10))[0] is None
    assert pace.held(NOW + seconds(50), NOW + seconds(10)) == NOW + seconds(50)


@pytest.mark.parametrize(("interval", "burst"), [(0.0, 1), (-1.0, 1), (float("nan"), 1), (1.0, 0)])
def test_a_pace_needs_a_positive_interval_and_burst(interval: float, burst: int) -> None:
    with pytest.raises(ValueError, match="pace"):
        Pace("k", interval, burst)


def test_slack_tiers_as_paces() -> None:
    assert slack_pace("conversations.create", {"name": "inc-1"}) == Pace(
        "slack:conversations.create", 3.0
    )
    assert slack_pace("conversations.setTopic", {"channel": "C1"}) == Pace(
        "slack:conversations.setTopic", 3.0
    )
    assert slack_pace("conversations.invite", {"channel": "C1"}) == Pace(
        "slack:conversations.invite", 1.2, 5
    )
    assert slack_pace("chat.postMessage", {"channel": "C1"}) == Pace("slack:post:C1", 1.0, 3)
    assert slack_pace("chat.postMessage", {"channel": "C2"}) == Pace("slack:post:C2", 1.0, 3)
    assert slack_pace("chat.update", {"channel": "C1"}) == Pace("slack:chat.update", 1.2, 5)
    assert slack_pace("chat.postEphemeral", {"channel": "C1"}) == Pace(
        "slack:chat.postEphemeral", 0.6, 10
    )
    assert slack_pace("auth.test", {}) is None
