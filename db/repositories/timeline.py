"""The append-only, hash-chained timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select

from bot.domain.actor import Actor
from bot.domain.events import Event, encode
from bot.domain.incident import JSON, TimelineEntry
from bot.domain.timeline import GENESIS, next_entry
from db.repositories.base import Repository
from db.rows import to_entry
from db.tables import timeline

_HEAD = (
    select(timeline.c.seq, timeline.c.hash)
    .where(timeline.c.incident_id == bindparam("incident_id"))
    .order_by(timeline.c.seq.desc())
    .limit(1)
)
_INSERT = insert(timeline)
_FOR_INCIDENT = (
    select(timeline)
    .where(timeline.c.incident_id == bindparam("incident_id"))
    .order_by(timeline.c.seq)
)


class SqlTimelineRepository(Repository):
    async def append(
        self, incident_id: int, *, at: datetime, actor: Actor, event: Event
    ) -> TimelineEntry:
        kind, body = encode(event)
        if at.tzinfo is None:
            raise ValueError("timeline times must be timezone-aware")
        last = (await self._execute(_HEAD, {"incident_id": incident_id})).first()
        entry = next_entry(
            prev_seq=0 if last is None else last.seq,
            prev_hash=GENESIS if last is None else last.hash,
            incident_id=incident_id,
            at=at,
            actor=actor,
            kind=kind,
            body=body,
        )
        await self._execute(_INSERT, _fields(entry))
        return entry

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id})
        return [to_entry(row) for row in rows]


def _fields(entry: TimelineEntry) -> JSON:
    return {
        "incident_id": entry.incident_id,
        "seq": entry.seq,
        "at": entry.at,
        "actor": str(entry.actor),
        "kind": entry.kind,
        "body": entry.body,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
