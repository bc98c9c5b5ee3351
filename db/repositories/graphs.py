"""Incidents' graph requests (``bot.ports.GraphRepository``) over ``incident_graphs``.

A request is wanted with the incident's opening (held back with the transaction's other
writes, and never twice: the incident id is the key), claimed with a lease by the graph
worker, and finished with a conditional update. Claims read candidates without locks, then
take each with a conditional update of its lease, so two replicas never hold one request at
once; the worker locks the incident before finishing it, in the order every writer of an
incident's rows keeps (the incident, then its rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, update

from bot.domain.graphs import GraphStatus, IncidentGraph
from db.repositories.base import Repository, upsert
from db.tables import incident_graphs as graphs

TABLE = graphs.name
PENDING = GraphStatus.PENDING.value

_FREE = or_(
    graphs.c.claimed_until.is_(None),
    graphs.c.claimed_until <= bindparam("now", type_=graphs.c.claimed_until.type),
)
_CANDIDATES = (
    select(graphs.c.incident_id)
    .where(graphs.c.status == PENDING, _FREE)
    .order_by(graphs.c.wanted_at, graphs.c.incident_id)
    .limit(bindparam("limit"))
)
# The lease is taken only if nobody holds it: of two replicas that read the same candidate,
# the second's update matches nothing (PostgreSQL re-checks the row once the first commits).
_CLAIM = (
    update(graphs)
    .where(graphs.c.incident_id == bindparam("the_incident"), graphs.c.status == PENDING, _FREE)
    .values(claimed_until=bindparam("until"), attempts=graphs.c.attempts + 1)
    .returning(*graphs.c)
)
_FINISH = (
    update(graphs)
    .where(graphs.c.incident_id == bindparam("the_incident"), graphs.c.status == PENDING)
    .values(
        status=bindparam("new_status"),
        finished_at=bindparam("at"),
        reason=bindparam("why"),
        png=bindparam("image"),
        claimed_until=None,
    )
)
_GET = select(graphs).where(graphs.c.incident_id == bindparam("the_incident"))


@cache
def _want(dialect: str) -> Any:
    return (
        upsert(dialect, graphs)
        .values(
            incident_id=bindparam("incident_id"),
            status=bindparam("status"),
            wanted_at=bindparam("wanted_at"),
            attempts=0,
            finished_at=bindparam("finished_at"),
            reason=bindparam("reason"),
        )
        .on_conflict_do_nothing(index_elements=[graphs.c.incident_id])
    )


def _graph(row: Row[Any]) -> IncidentGraph:
    return IncidentGraph(
        incident_id=row.incident_id,
        status=GraphStatus(row.status),
        wanted_at=row.wanted_at,
        attempts=row.attempts,
        claimed_until=row.claimed_until,
        finished_at=row.finished_at,
        reason=row.reason,
        png=bytes(row.png) if row.png is not None else None,
    )


class SqlGraphRepository(Repository):
    """The ``GraphRepository`` port over the ``incident_graphs`` table."""

    async def want(self, incident_id: int, *, at: datetime, unavailable: str = "") -> None:
        row = {
            "incident_id": incident_id,
            "status": GraphStatus.UNAVAILABLE.value if unavailable else PENDING,
            "wanted_at": at,
            "finished_at": at if unavailable else None,
            "reason": unavailable,
        }
        self._hold(TABLE, _want(self._dialect), row)

    async def claim(self, *, now: datetime, until: datetime, limit: int) -> Sequence[IncidentGraph]:
        candidates = [
            row.incident_id
            for row in await self._execute(_CANDIDATES, {"now": now, "limit": limit})
        ]
        claimed = []
        for incident_id in candidates:
            row = (
                await self._execute(
                    _CLAIM, {"the_incident": incident_id, "now": now, "until": until}
                )
            ).one_or_none()
            if row is not None:
                claimed.append(_graph(row))
        return claimed

    async def finish(
        self,
        incident_id: int,
        *,
        status: GraphStatus,
        at: datetime,
        reason: str = "",
        png: bytes | None = None,
    ) -> bool:
        result = await self._execute(
            _FINISH,
            {
                "the_incident": incident_id,
                "new_status": status.value,
                "at": at,
                "why": reason,
                "image": png,
            },
        )
        return int(result.rowcount) == 1

    async def get(self, incident_id: int) -> IncidentGraph | None:
        row = (await self._execute(_GET, {"the_incident": incident_id})).one_or_none()
        return _graph(row) if row is not None else None
