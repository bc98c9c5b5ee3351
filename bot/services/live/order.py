"""How far the live feed may go: past every id that is committed or can never commit.

Timeline ids are handed out at insert, and on PostgreSQL transactions commit in any order: a
read of ``id > cursor`` can see 12 while 11, inserted earlier by a transaction still running,
is not visible yet. A reader that moved its cursor to 12 would never send 11. So the cursor
stops before a gap until the gap can no longer fill:

- its writer has ended. The id came from the sequence before the later id did (the
  sequence hands values out in order: no per-session cache, PostgreSQL's default for a
  serial column), so before the later id's transaction committed and before the read that
  saw the gap; and a
  transaction gets its number (xid) in the same statement, microseconds after it takes a
  sequence value. So once ``fence_delay`` has passed since the gap was first seen, every
  writer that may hold the missing id is numbered below the ``next_unstarted`` of a snapshot
  taken then (the fence); when a later snapshot's ``oldest_running`` has passed the fence,
  all of them have ended, and that same snapshot shows whatever they committed. What is
  still missing was rolled back: skipped, with no timer to wait out. One fence covers every
  gap below the highest id of the read that first saw the gap (its ``mark``: those ids were
  all handed out before that read), so rolled-back ids seen together pass together, not one
  fence (a second or so) each; a gap above the mark waits for a fence of its own.
- or it has stayed open ``max_wait``: a writer stuck that long (or any long transaction on
  the server holding the horizon back) must not stop every stream. Skipped with a WARNING,
  naming the ids: if one commits later, live streams will not carry it (a reload shows it).

With no horizon (SQLite: one writer at a time, ids commit in order, a rolled-back insert
takes no id for good) a gap is skipped at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.ports.live import Horizon

log = logging.getLogger("firebreak.live")

FENCE_DELAY = timedelta(seconds=0.2)
MAX_GAP_WAIT = timedelta(seconds=30)


@dataclass(slots=True)
class _Gap:
    """The gaps at or below ``mark`` (the highest id of the read that first saw one, at
    ``seen_at``), and the fence their writers must pass; ``passed`` once they have."""

    mark: int
    seen_at: datetime
    fence: int | None = None
    passed: bool = False


class CommitOrder:
    """The cursor of the live feed: every id at or below it is settled (published, or known
    never to commit). ``advance`` takes the ids a read found past it and answers those that
    may go out now, in order, moving the cursor past them."""

    def __init__(
        self,
        cursor: int,
        *,
        fence_delay: timedelta = FENCE_DELAY,
        max_wait: timedelta = MAX_GAP_WAIT,
    ) -> None:
        self.cursor = cursor
        self._fence_delay = fence_delay
        self._max_wait = max_wait
        self._gap: _Gap | None = None
        self._holding = False

    @property
    def holding(self) -> bool:
        """Whether the cursor waits before a gap."""
        return self._holding

    def advance(self, ids: Sequence[int], horizon: Horizon | None, now: datetime) -> list[int]:
        """Of ``ids`` (ascending, as one snapshot with ``horizon`` found them), those that may
        be published now."""
        settled: list[int] = []
        self._holding = False
        if self._gap is not None and self._gap.mark <= self.cursor:
            self._gap = None
        highest = ids[-1] if ids else self.cursor
        for next_id in ids:
            if next_id <= self.cursor:
                continue
            if next_id > self.cursor + 1 and not self._may_skip(next_id, highest, horizon, now):
                self._holding = True
                break
            settled.append(next_id)
            self.cursor = next_id
            if self._gap is not None and self._gap.mark <= self.cursor:
                self._gap = None
        return settled

    def _may_skip(self, next_id: int, highest: int, horizon: Horizon | None, now: datetime) -> bool:
        """Whether the ids between the cursor and ``next_id`` can be passed over (this read's
        highest id is ``highest``)."""
        if horizon is None:
            return True
        at = self.cursor + 1
        gap = self._gap
        if gap is not None and gap.mark < next_id - 1:
            # The gap reaches past what the fence covers: pass what it covers, and wait on
            # the rest with a fence of its own.
            if not self._passes(gap, at, gap.mark + 1, horizon, now):
                return False
            self.cursor = gap.mark
            gap = None
        if gap is None:
            self._gap = _Gap(highest, now)
            return False
        return self._passes(gap, at, next_id, horizon, now)

    def _passes(self, gap: _Gap, at: int, following: int, horizon: Horizon, now: datetime) -> bool:
        """Whether the missing ids ``at`` up to ``following`` (all at or below the mark) can
        no longer commit, or have waited the bound."""
        if gap.passed:
            log.debug("timeline ids %s rolled back: passed over", _ids(at, following))
            return True
        if gap.fence is None and now - gap.seen_at >= self._fence_delay:
            gap.fence = horizon.next_unstarted
        if gap.fence is not None and horizon.oldest_running >= gap.fence:
            gap.passed = True
            log.debug("timeline ids %s rolled back: passed over", _ids(at, following))
            return True
        if now - gap.seen_at >= self._max_wait:
            log.warning(
                "timeline ids %s still not committed after %.0fs (a transaction that long, or"
                " one holding the server's oldest running transaction back): live streams pass"
                " over them",
                _ids(at, following),
                self._max_wait.total_seconds(),
            )
            return True
        return False


def _ids(first: int, following: int) -> str:
    last = following - 1
    return str(first) if first == last else f"{first}-{last}"
