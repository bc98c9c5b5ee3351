"""Escalation timers (``bot.domain.escalation``): scheduled when a path starts, claimed by
the escalation worker when due, fired or cancelled once."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from bot.domain.escalation import NewTimer, Timer, TimerKind, TimerStatus
from bot.domain.incident import Severity
from db.repositories.base import Repository
from db.tables import escalation_timers as timers

PENDING = TimerStatus.PENDING.value

TABLE = timers.name
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
_FOR_INCIDENTS = (
    select(timers)
    .where(timers.c.incident_id.in_(bindparam("incident_ids", expanding=True)))
    .order_by(timers.c.incident_id, timers.c.run, timers.c.kind, timers.c.level, timers.c.id)
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


def _values(timer: NewTimer, at: datetime) -> dict[str, Any]:
    return {
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
    }


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
            row = (await self._execute(_INSERT, _values(timer, at))).one()
            stored.append(_timer(row))
        self._learn(stored)
        return stored

    async def schedule_later(self, new: Sequence[NewTimer], *, at: datetime) -> None:
        known = self._state.known
        for timer in new:
            known.timers_held.add(timer.incident_id)
            if timer.incident_id in known.runs:
                known.runs[timer.incident_id] = max(known.runs[timer.incident_id], timer.run)
            self._hold(TABLE, _INSERT, _values(timer, at), self._scheduled)

    def _scheduled(self, rows: list[Row[Any]], sent: list[dict[str, Any]]) -> None:
        self._state.known.timers_held.clear()
        self._learn([_timer(row) for row in rows])

    def _learn(self, stored: Sequence[Timer]) -> None:
        known = self._state.known
        for timer in stored:
            listed = known.timers_of.get(timer.incident_id)
            if listed is not None:
                listed.append(timer)
            if timer.incident_id in known.runs:
                known.runs[timer.incident_id] = max(known.runs[timer.incident_id], timer.run)

    async def latest_run(self, incident_id: int) -> int:
        known = self._state.known
        if incident_id in known.runs:
            return known.runs[incident_id]
        row = await self._execute(_LATEST_RUN, {"incident_id": incident_id}, reads=(TABLE,))
        return int(row.scalar_one())

    async def cancel_pending(self, incident_id: int, *, reason: str) -> int:
        known = self._state.known
        listed = known.timers_of.get(incident_id)
        created_here = listed is not None and incident_id not in known.timers_held
        if created_here and not any(t.status is TimerStatus.PENDING for t in listed or ()):
            return 0  # an incident created here, with no pending timer: nothing to ask
        result = await self._execute(
            _CANCEL, {"the_incident": incident_id, "reason": reason}, reads=(TABLE,)
        )
        listed = known.timers_of.get(incident_id)
        if listed is not None:
            listed[:] = [
                replace(t, status=TimerStatus.CANCELLED, cancelled_reason=reason)
                if t.status is TimerStatus.PENDING
                else t
                for t in listed
            ]
        return int(result.rowcount)

    async def claim_due(self, *, now: datetime, limit: int) -> Sequence[Timer]:
        rows = await self._execute(_DUE, {"now": now, "limit": limit})
        return [_timer(row) for row in rows]

    async def mark_fired(self, timer_id: int, *, at: datetime) -> bool:
        result = await self._execute(_FIRE, {"timer_id": timer_id, "at": at})
        fired = int(result.rowcount) == 1
        if fired:
            for listed in self._state.known.timers_of.values():
                listed[:] = [
                    replace(t, status=TimerStatus.FIRED, fired_at=at) if t.id == timer_id else t
                    for t in listed
                ]
        return fired

    async def for_incident(self, incident_id: int) -> Sequence[Timer]:
        known = self._state.known
        if incident_id in known.timers_held:
            await self._state.held.flush(self._conn, (TABLE,))
        listed = known.timers_of.get(incident_id)
        if listed is not None:
            found = list(listed)
        else:
            rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id}, reads=(TABLE,))
            found = [_timer(row) for row in rows]
        return _for_people(found)

    async def for_incidents(self, incident_ids: Collection[int]) -> Mapping[int, Sequence[Timer]]:
        known = self._state.known
        # What this transaction holds back or has listed is answered as for_incident does.
        touched = {i for i in incident_ids if i in known.timers_held or i in known.timers_of}
        found: dict[int, Sequence[Timer]] = {}
        for incident_id in sorted(touched):
            listed = await self.for_incident(incident_id)
            if listed:
                found[incident_id] = listed
        rest = sorted(set(incident_ids) - touched)
        if not rest:
            return found
        rows = await self._execute(_FOR_INCIDENTS, {"incident_ids": rest}, reads=(TABLE,))
        grouped: dict[int, list[Timer]] = {}
        for row in rows:
            timer = _timer(row)
            grouped.setdefault(timer.incident_id, []).append(timer)
        found.update((i, _for_people(listed)) for i, listed in grouped.items())
        return found


def _for_people(found: Sequence[Timer]) -> list[Timer]:
    # The target timer (level -1) after the levels of its run, for people reading them.
    return sorted(found, key=lambda t: (t.run, t.kind is TimerKind.TARGET, t.level))
