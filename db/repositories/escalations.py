"""Escalation timers (``bot.domain.escalation``): scheduled when a path starts, claimed by
the escalation worker when due, fired or cancelled once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from bot.domain.escalation import NewTimer, Timer, TimerKind, TimerStatus
from bot.domain.incident import Severity
from db.repositories.base import Repository
from db.tables import escalation_timers as timers

PENDING = TimerStatus.PENDING.value

_INSERT = insert(timers).returning(*timers.c)
_LATEST_RUN = select(func.coalesce(func.max(timers.c.run), 0)).where(
    timers.c.incident_id == bindparam("incident_id")
)
_CANCEL = (
    update(timers)
    .where(
        timers.c.incident_id == bindparam("the_incident"),
        timers.c.status == PENDING,
    )
    .values(status=TimerStatus.CANCELLED.value, cancelled_reason=bindparam("reason"))
)
_FIRE = (
    update(timers)
    .where(timers.c.id == bindparam("timer_id"), timers.c.status == PENDING)
    .values(status=TimerStatus.FIRED.value, fired_at=bindparam("at"))
)
_FOR_INCIDENT = (
    select(timers)
    .where(timers.c.incident_id == bindparam("incident_id"))
    .order_by(timers.c.run, timers.c.kind, timers.c.level, timers.c.id)
)


# No row locks: the ack path locks the incident and then updates its timers, so a worker that
# locked timers first and the incident second could deadlock with it. The worker locks each
# due timer's incident, then fires the timer with the conditional update ``_FIRE``.
_DUE = (
    select(timers)
    .where(
        timers.c.status == PENDING,
        timers.c.due_at <= bindparam("now", type_=timers.c.due_at.type),
    )
    .order_by(timers.c.due_at, timers.c.id)
    .limit(bindparam("limit"))
)


def _timer(row: Row[Any]) -> Timer:
    return Timer(
        id=row.id,
        incident_id=row.incident_id,
        run=row.run,
        severity=Severity(row.severity),
        kind=TimerKind(row.kind),
        level=row.level,
        due_at=row.due_at,
        status=TimerStatus(row.status),
        created_at=row.created_at,
        fired_at=row.fired_at,
        cancelled_reason=row.cancelled_reason,
    )


class SqlEscalationRepository(Repository):
    """The ``EscalationRepository`` port over the ``escalation_timers`` table."""

    async def schedule(self, new: Sequence[NewTimer], *, at: datetime) -> Sequence[Timer]:
        stored = []
        for timer in new:
            row = (
                await self._execute(
                    _INSERT,
                    {
                        "incident_id": timer.incident_id,
                        "run": timer.run,
                        "severity": timer.severity.value,
                        "kind": timer.kind.value,
                        "level": timer.level,
                        "due_at": timer.due_at,
                        "status": PENDING,
                        "created_at": at,
                        "fired_at": None,
                        "cancelled_reason": "",
                    },
                )
            ).one()
            stored.append(_timer(row))
        return stored

    async def latest_run(self, incident_id: int) -> int:
        return int((await self._execute(_LATEST_RUN, {"incident_id": incident_id})).scalar_one())

    async def cancel_pending(self, incident_id: int, *, reason: str) -> int:
        result = await self._execute(_CANCEL, {"the_incident": incident_id, "reason": reason})
        return int(result.rowcount)

    async def claim_due(self, *, now: datetime, limit: int) -> Sequence[Timer]:
        rows = await self._execute(_DUE, {"now": now, "limit": limit})
        return [_timer(row) for row in rows]

    async def mark_fired(self, timer_id: int, *, at: datetime) -> bool:
        result = await self._execute(_FIRE, {"timer_id": timer_id, "at": at})
        return int(result.rowcount) == 1

    async def for_incident(self, incident_id: int) -> Sequence[Timer]:
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id})
        found = [_timer(row) for row in rows]
        # The target timer (level -1) after the levels of its run, for people reading them.
        return sorted(found, key=lambda t: (t.run, t.kind is TimerKind.TARGET, t.level))
