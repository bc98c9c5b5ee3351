"""``CommitOrder``: the live feed's cursor passes every committed id in order, waits before a
gap while a writer that may hold the missing id can still commit, and passes over a gap
once the horizon shows those writers ended, or once it has waited its bound."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot.ports.live import FeedIds, Horizon
from bot.services.live.order import FENCE_DELAY, MAX_GAP_WAIT, CommitOrder
from tests.support.payloads.alertmanager import T0

LATER = T0 + FENCE_DELAY


def read(*ids: int, oldest: int | None = None, following: int | None = None) -> FeedIds:
    """The ids one snapshot found, and its horizon (none: SQLite)."""
    horizon = None if oldest is None else Horizon(oldest, following or oldest)
    return FeedIds(ids, horizon)


def settle(order: CommitOrder, found: FeedIds, now: datetime) -> list[int]:
    return order.advance(found.ids, found.horizon, now)


def test_contiguous_ids_go_out_in_order_and_the_cursor_follows() -> None:
    order = CommitOrder(0)
    assert settle(order, read(1, 2, 3, oldest=10), T0) == [1, 2, 3]
    assert order.cursor == 3
    assert not order.holding
    # What it passed already is never handed out again.
    assert settle(order, read(2, 3, 4, oldest=10), T0) == [4]


def test_without_a_horizon_one_writer_at_a_time_so_a_gap_was_rolled_back() -> None:
    order = CommitOrder(0)
    assert settle(order, read(1, 3, 4), T0) == [1, 3, 4]


def test_a_gap_holds_back_the_ids_after_it_until_it_fills() -> None:
    order = CommitOrder(0)
    assert settle(order, read(1, 3, oldest=5, following=9), T0) == [1]
    assert order.holding
    assert order.cursor == 1
    # Time passes, the writer still runs (oldest running 5 is below the fence, 9).
    assert settle(order, read(1, 3, oldest=5, following=9), LATER) == []
    assert settle(order, read(3, oldest=5, following=12), LATER + FENCE_DELAY) == []
    # It commits: both go out, in id order.
    assert settle(order, read(2, 3, oldest=5, following=12), LATER + FENCE_DELAY) == [2, 3]
    assert not order.holding


def test_a_gap_is_passed_over_once_every_writer_older_than_the_fence_has_ended() -> None:
    order = CommitOrder(0)
    assert settle(order, read(2, oldest=5, following=9), T0) == []
    # The fence is taken from a snapshot at least the fence delay after the gap was seen.
    assert settle(order, read(2, oldest=5, following=9), LATER) == []
    assert settle(order, read(2, oldest=8, following=11), LATER) == []
    assert settle(order, read(2, oldest=9, following=11), LATER) == [2]
    assert order.cursor == 2


def test_the_fence_is_not_the_snapshot_that_first_saw_the_gap() -> None:
    # A writer takes its sequence value microseconds before its transaction number: the
    # snapshot that first saw the gap may not count it yet, even with nothing running.
    order = CommitOrder(0)
    assert settle(order, read(2, oldest=9, following=9), T0) == []
    # Seen again before the fence delay: still no fence, however idle the server looks.
    assert settle(order, read(2, oldest=9, following=9), T0 + FENCE_DELAY / 2) == []
    assert settle(order, read(2, oldest=9, following=10), LATER) == []
    assert settle(order, read(2, oldest=10, following=10), LATER) == [2]


def test_a_gap_open_for_the_whole_bound_is_passed_over_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order = CommitOrder(4)
    assert settle(order, read(8, oldest=5, following=9), T0) == []
    assert settle(order, read(8, oldest=5, following=9), T0 + MAX_GAP_WAIT / 2) == []
    with caplog.at_level(logging.WARNING, logger="firebreak.live"):
        assert settle(order, read(8, oldest=5, following=9), T0 + MAX_GAP_WAIT) == [8]
    assert "timeline ids 5-7 still not committed" in caplog.text


def test_a_gap_above_what_the_fence_covers_waits_on_its_own() -> None:
    order = CommitOrder(0)
    # The first read's highest id is 2: the fence covers the writers of ids up to 2.
    settle(order, read(2, oldest=1, following=3), T0)
    settle(order, read(2, 5, oldest=1, following=3), LATER)
    # The first gap (1) passes; the second (3-4), above that mark, is new and holds.
    assert settle(order, read(2, 5, oldest=3, following=4), LATER) == [2]
    assert order.holding
    assert settle(order, read(5, oldest=3, following=6), LATER + timedelta(seconds=1)) == []
    assert settle(order, read(5, oldest=6, following=6), LATER + timedelta(seconds=1)) == [5]


def test_gaps_seen_in_one_read_pass_together_behind_one_fence() -> None:
    # Every even id rolled back long ago, all seen in the first read; a busy server with a
    # new writer running at each read.
    present = tuple(range(1, 22, 2))
    order = CommitOrder(0)
    assert settle(order, read(*present, oldest=100, following=101), T0) == [1]
    assert settle(order, read(*present[1:], oldest=110, following=111), LATER) == []
    assert settle(order, read(*present[1:], oldest=120, following=121), LATER) == [*present[1:]]
    assert order.cursor == 21
    assert not order.holding


def test_one_fence_covers_a_gap_that_appears_below_its_mark_later() -> None:
    order = CommitOrder(0)
    # 2 is missing; 3 commits later but 4 was already seen: 3 too was handed out before.
    assert settle(order, read(1, 4, oldest=10, following=11), T0) == [1]
    assert settle(order, read(4, oldest=10, following=11), LATER) == []
    assert settle(order, read(3, 4, oldest=11, following=12), LATER) == [3, 4]
