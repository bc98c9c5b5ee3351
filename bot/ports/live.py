"""The timeline read in the order of its global ids, for the live feed (``bot.services.live``).

Every change people see is a timeline entry, and the timeline's global integer ``id`` is the
feed's position. Ids are handed out at insert and transactions commit in any order, so a read
past a position can find a later id committed while an earlier one is not yet: ``Horizon``
lets the reader tell an id that may still commit from one that never will.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.incident import TimelineEntry


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A timeline entry with its global ``id`` and its incident as it stands now (the list
    page refreshes a row from it)."""

    id: int
    entry: TimelineEntry
    status: str
    severity: str
    title: str
    service: str


@dataclass(frozen=True, slots=True)
class Horizon:
    """Which writers had finished when a read's snapshot was taken, as transaction numbers
    that only grow: every writer numbered below ``oldest_running`` had ended (committed or
    rolled back), and every writer that began afterwards is numbered ``next_unstarted`` or
    more. PostgreSQL's snapshot ``xmin`` and ``xmax``."""

    oldest_running: int
    next_unstarted: int


@dataclass(frozen=True, slots=True)
class FeedRead:
    """Entries past a position, in id order, and the ``horizon`` of the snapshot that read
    them; ``None`` where one writer commits at a time (SQLite), so ids commit in order and a
    missing id was rolled back."""

    entries: tuple[FeedEntry, ...]
    horizon: Horizon | None


@dataclass(frozen=True, slots=True)
class FeedIds:
    """The ids past a position, ascending, and their snapshot's horizon (as ``FeedRead``)."""

    ids: tuple[int, ...]
    horizon: Horizon | None


class TimelineFeed(Protocol):
    """Reads of the whole timeline by global id, outside any unit of work (they write
    nothing, and on SQLite they must not take the write lock)."""

    async def head(self) -> int:
        """The highest id committed (0 for an empty timeline)."""
        ...

    async def read(
        self, after: int, *, limit: int, upto: int | None = None, incident_id: int | None = None
    ) -> FeedRead:
        """At most ``limit`` entries with ``after < id`` (and ``id <= upto``, and of
        ``incident_id``, when given), in id order, and their snapshot's horizon. Raises
        ``StorageUnavailable`` when the database cannot be read."""
        ...

    async def ids(self, after: int, *, limit: int) -> FeedIds:
        """``read`` without the entries: the ids alone (a tenth of the cost), for a reader
        that only keeps its place (nobody is following)."""
        ...
