"""Graph requests in memory, as ``db.repositories.graphs`` keeps them in SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from bot.domain.graphs import GraphStatus, IncidentGraph


@dataclasses.dataclass
class GraphTable:
    """The rows by incident id, copied per transaction like the rest of the store's state."""

    rows: dict[int, IncidentGraph] = dataclasses.field(default_factory=dict)

    def copy(self) -> GraphTable:
        return GraphTable(dict(self.rows))


class MemoryGraphs:
    """The ``GraphRepository`` port over a ``GraphTable``."""

    def __init__(self, table: GraphTable) -> None:
        self._table = table

    async def want(self, incident_id: int, *, at: datetime, unavailable: str = "") -> None:
        if unavailable:
            row = IncidentGraph(
                incident_id,
                GraphStatus.UNAVAILABLE,
                wanted_at=at,
                finished_at=at,
                reason=unavailable,
            )
        else:
            row = IncidentGraph(incident_id, GraphStatus.PENDING, wanted_at=at)
        self._table.rows.setdefault(incident_id, row)

    async def claim(self, *, now: datetime, until: datetime, limit: int) -> Sequence[IncidentGraph]:
        free = [
            row
            for row in self._table.rows.values()
            if row.status is GraphStatus.PENDING
            and (row.claimed_until is None or row.claimed_until <= now)
        ]
        free.sort(key=lambda row: (row.wanted_at, row.incident_id))
        claimed = []
        for row in free[:limit]:
            held = dataclasses.replace(row, claimed_until=until, attempts=row.attempts + 1)
            self._table.rows[row.incident_id] = held
            claimed.append(held)
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
        row = self._table.rows.get(incident_id)
        if row is None or row.status is not GraphStatus.PENDING:
            return False
        self._table.rows[incident_id] = dataclasses.replace(
            row, status=status, finished_at=at, reason=reason, png=png, claimed_until=None
        )
        return True

    async def get(self, incident_id: int) -> IncidentGraph | None:
        return self._table.rows.get(incident_id)
