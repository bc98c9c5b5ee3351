"""Escalation timers in memory, as ``db.repositories.escalations`` keeps them in SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from bot.domain.escalation import NewTimer, Timer, TimerKind, TimerStatus


@dataclasses.dataclass
class TimerTable:
    """The rows, copied per transaction like the rest of the memory store's state."""

    rows: dict[int, Timer] = dataclasses.field(default_factory=dict)
    next_id: int = 1

    def copy(self) -> TimerTable:
        return TimerTable(rows=dict(self.rows), next_id=self.next_id)


class MemoryEscalations:
    """The ``EscalationRepository`` port over a ``TimerTable``."""

    def __init__(self, table: TimerTable) -> None:
        self._table = table

    async def schedule(self, new: Sequence[NewTimer], *, at: datetime) -> Sequence[Timer]:
        stored = []
        for timer in new:
            clash = any(
                (t.incident_id, t.run, t.kind, t.level)
                == (timer.incident_id, timer.run, timer.kind, timer.level)
                for t in self._table.rows.values()
            )
            if clash:
                raise ValueError(f"timer already scheduled: {timer}")
            row = Timer(
                id=self._table.next_id,
                incident_id=timer.incident_id,
                run=timer.run,
                severity=timer.severity,
                kind=timer.kind,
                level=timer.level,
                due_at=timer.due_at,
                status=TimerStatus.PENDING,
                created_at=at,
            )
            self._table.rows[row.id] = row
            self._table.next_id += 1
            stored.append(row)
        return stored

    async def schedule_later(self, new: Sequence[NewTimer], *, at: datetime) -> None:
        await self.schedule(new, at=at)

    async def latest_run(self, incident_id: int) -> int:
        return max(
            (t.run for t in self._table.rows.values() if t.incident_id == incident_id), default=0
        )

    async def cancel_pending(self, incident_id: int, *, reason: str) -> int:
        pending = [
            t
            for t in self._table.rows.values()
            if t.incident_id == incident_id and t.status is TimerStatus.PENDING
        ]
        for t in pending:
            self._table.rows[t.id] = dataclasses.replace(
                t, status=TimerStatus.CANCELLED, cancelled_reason=reason
            )
        return len(pending)

    async def claim_due(self, *, now: datetime, limit: int) -> Sequence[Timer]:
        due = [
            t
            for t in self._table.rows.values()
            if t.status is TimerStatus.PENDING and t.due_at <= now
        ]
        return sorted(due, key=lambda t: (t.due_at, t.id))[:limit]

    async def mark_fired(self, timer_id: int, *, at: datetime) -> bool:
        timer = self._table.rows.get(timer_id)
        if timer is None or timer.status is not TimerStatus.PENDING:
            return False
        self._table.rows[timer_id] = dataclasses.replace(
            timer, status=TimerStatus.FIRED, fired_at=at
        )
        return True

    async def for_incident(self, incident_id: int) -> Sequence[Timer]:
        found = [t for t in self._table.rows.values() if t.incident_id == incident_id]
        return sorted(found, key=lambda t: (t.run, t.kind is TimerKind.TARGET, t.level))

    async def for_incidents(self, incident_ids: Collection[int]) -> Mapping[int, Sequence[Timer]]:
        found: dict[int, Sequence[Timer]] = {}
        for incident_id in incident_ids:
            timers = await self.for_incident(incident_id)
            if timers:
                found[incident_id] = timers
        return found
