"""An in-memory ``TimelineFeed``: entries a test makes visible by id, the horizon it sets, and
an outage it can switch on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import Note, encode
from bot.domain.incident import TimelineEntry
from bot.errors import StorageUnavailable
from bot.ports.live import FeedEntry, FeedIds, FeedRead, Horizon


def feed_entry(
    entry_id: int, *, incident_id: int = 1, text: str = "", at: datetime, seq: int = 1
) -> FeedEntry:
    """A committed note, as the feed reads it."""
    kind, body = encode(Note(text=text or f"note {entry_id}"))
    entry = TimelineEntry(
        incident_id=incident_id,
        seq=seq,
        at=at,
        actor=Actor("slack", "U1"),
        kind=kind,
        body=body,
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    return FeedEntry(
        id=entry_id,
        entry=entry,
        status="triggered",
        severity="P1",
        title=f"incident {incident_id}",
        service="lnn-service",
    )


class MemoryTimelineFeed:
    """``horizon`` is what every read reports (``None``: SQLite's one writer at a time)."""

    def __init__(self, horizon: Horizon | None = None) -> None:
        self.entries: dict[int, FeedEntry] = {}
        self.horizon = horizon
        self.down = False
        self.reads = 0
        # Called once by the next read, as it answers: what happens while a read is out.
        self.meanwhile: Callable[[], None] | None = None

    def commit(self, *entries: FeedEntry) -> None:
        for entry in entries:
            self.entries[entry.id] = entry

    async def head(self) -> int:
        self._check()
        return max(self.entries, default=0)

    async def read(
        self, after: int, *, limit: int, upto: int | None = None, incident_id: int | None = None
    ) -> FeedRead:
        self._check()
        self.reads += 1
        self._meanwhile()
        found = [
            self.entries[i]
            for i in sorted(self.entries)
            if i > after
            and (upto is None or i <= upto)
            and (incident_id is None or self.entries[i].entry.incident_id == incident_id)
        ]
        return FeedRead(tuple(found[:limit]), self.horizon)

    async def ids(self, after: int, *, limit: int) -> FeedIds:
        self._check()
        self.reads += 1
        self._meanwhile()
        return FeedIds(tuple(i for i in sorted(self.entries) if i > after)[:limit], self.horizon)

    def _meanwhile(self) -> None:
        hook, self.meanwhile = self.meanwhile, None
        if hook is not None:
            hook()

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("database error: the test turned it off")
