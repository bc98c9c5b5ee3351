"""The append-only, hash-chained timeline.

An entry's hash is computed here, from the previous entry's, so its insert needs no answer
from the database: it is held back (``db.unit_state``) and sent with the transaction's other
entries. The chain's head is read once per incident and transaction, and not at all for an
incident the transaction created.
"""

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
TABLE = timeline.name
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
        known = self._state.known
        head = known.heads.get(incident_id)
        if head is None:
            if incident_id in known.created:
                head = (0, GENESIS)
            else:
                # Held entries of this incident would have set its head: nothing to send first.
                last = (await self._execute(_HEAD, {"incident_id": incident_id}, reads=())).first()
                head = (0, GENESIS) if last is None else (last.seq, last.hash)
        entry = next_entry(
            prev_seq=head[0],
            prev_hash=head[1],
            incident_id=incident_id,
            at=at,
            actor=actor,
            kind=kind,
            body=body,
        )
        # A concurrent writer that appended meanwhile makes the held insert fail on the unique
        # (incident, seq) when it is sent: a Conflict, and the transaction is retried.
        self._hold(TABLE, _INSERT, _fields(entry))
        known.heads[incident_id] = (entry.seq, entry.hash)
        return entry

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id}, reads=(TABLE,))
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
