"""The append-only, hash-chained timeline, and the whole timeline read by global id.

An entry's hash is computed here, from the previous entry's, so its insert needs no answer
from the database: it is held back (``db.unit_state``) and sent with the transaction's other
entries. The chain's head is read once per incident and transaction, and not at all for an
incident the transaction created.

``SqlTimelineFeed`` reads entries past a global id for the live feed, outside any unit of
work, each read in one snapshot together with that snapshot's horizon on PostgreSQL
(``bot.ports.live``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.actor import Actor
from bot.domain.events import Event, encode
from bot.domain.incident import JSON, TimelineEntry
from bot.domain.timeline import GENESIS, next_entry
from bot.ports.live import FeedEntry, FeedIds, FeedRead, Horizon
from db.repositories.base import Repository
from db.rows import to_entry
from db.snapshots import snapshot
from db.tables import incidents, timeline

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


_HEAD_ID = select(func.max(timeline.c.id))
# pg_current_snapshot() is the snapshot of the statement (here the transaction's, REPEATABLE
# READ): the one the entries are read in. xid8 values, as text for the driver.
_HORIZON = text(
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text,"
    " pg_snapshot_xmax(pg_current_snapshot())::text"
)
_FEED = (
    select(
        timeline, incidents.c.status, incidents.c.severity, incidents.c.title, incidents.c.service
    )
    .select_from(timeline.join(incidents, incidents.c.id == timeline.c.incident_id))
    .where(timeline.c.id > bindparam("after"))
    .order_by(timeline.c.id)
    .limit(bindparam("limit"))
)
_IDS = (
    select(timeline.c.id)
    .where(timeline.c.id > bindparam("after"))
    .order_by(timeline.c.id)
    .limit(bindparam("limit"))
)
_UPTO = timeline.c.id <= bindparam("upto")
_OF_INCIDENT = timeline.c.incident_id == bindparam("incident_id")


class SqlTimelineFeed:
    """``bot.ports.TimelineFeed`` over the engine: read-only snapshots (``db.snapshots``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def head(self) -> int:
        async with snapshot(self._engine) as conn:
            value = (await conn.execute(_HEAD_ID)).scalar()
        return int(value or 0)

    async def read(
        self, after: int, *, limit: int, upto: int | None = None, incident_id: int | None = None
    ) -> FeedRead:
        statement = _FEED
        params: dict[str, Any] = {"after": after, "limit": limit}
        if upto is not None:
            statement, params["upto"] = statement.where(_UPTO), upto
        if incident_id is not None:
            statement, params["incident_id"] = statement.where(_OF_INCIDENT), incident_id
        async with snapshot(self._engine) as conn:
            horizon = await self._horizon(conn)
            rows = (await conn.execute(statement, params)).all()
        return FeedRead(tuple(_feed_entry(row) for row in rows), horizon)

    async def ids(self, after: int, *, limit: int) -> FeedIds:
        async with snapshot(self._engine) as conn:
            horizon = await self._horizon(conn)
            rows = (await conn.execute(_IDS, {"after": after, "limit": limit})).all()
        return FeedIds(tuple(row.id for row in rows), horizon)

    async def _horizon(self, conn: AsyncConnection) -> Horizon | None:
        """The snapshot's horizon on PostgreSQL; run first, so it takes the snapshot the
        entries are then read in (REPEATABLE READ)."""
        if not self._postgres:
            return None
        oldest, following = (await conn.execute(_HORIZON)).one()
        return Horizon(oldest_running=int(oldest), next_unstarted=int(following))


def _feed_entry(row: Row[Any]) -> FeedEntry:
    return FeedEntry(
        id=row.id,
        entry=to_entry(row),
        status=row.status,
        severity=row.severity,
        title=row.title,
        service=row.service,
    )
