"""Ad-hoc maintenance windows and the marks of the incidents windows touched
(``bot.ports.maintenance``).

Intake asks for the running windows once per alert group; the answer is read once per
transaction (the repository lives as long as its unit of work) and filtered by instant
after that, so a batch of deliveries costs one small indexed query. Opening or ending a
window in the same transaction forgets it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, bindparam, insert, literal_column, or_, select, update

from bot.domain.actor import Actor
from bot.domain.incident import Severity
from bot.domain.maintenance import AdHocWindow, MaintenanceMark, NewMark, NewWindow
from db.repositories.base import Repository, upsert
from db.tables import RESOLVED, incidents
from db.tables import maintenance_marks as marks
from db.tables import maintenance_windows as windows

_OPEN = insert(windows).returning(*windows.c)
# Not over at `now`: ends later and not ended early. A window opened later in the same
# transaction is added by `open` itself.
_NOT_OVER = (
    select(windows)
    .where(
        windows.c.ends_at > bindparam("now", type_=windows.c.ends_at.type),
        windows.c.ended_at.is_(None),
    )
    .order_by(windows.c.id)
)
_END = (
    update(windows)
    .where(windows.c.id == bindparam("window_id"), windows.c.ended_at.is_(None))
    .values(ended_at=bindparam("at"), ended_by=bindparam("by"))
    .returning(*windows.c)
)
_IS_OPEN = incidents.c.status != literal_column(f"'{RESOLVED}'")
_OPEN_INCIDENTS = select(incidents.c.id).where(_IS_OPEN).order_by(incidents.c.id)
_OPEN_INCIDENTS_OF = (
    select(incidents.c.id)
    .where(_IS_OPEN, incidents.c.service == bindparam("service"))
    .order_by(incidents.c.id)
)
_MARKS_OF = (
    select(marks)
    .where(marks.c.ad_hoc == bindparam("window_id"), marks.c.released_at.is_(None))
    .order_by(marks.c.incident_id, marks.c.id)
)
# No row locks, as for escalation timers: the caller locks each mark's incident, then
# releases the mark with the conditional update `_RELEASE`.
# A mark written by intake while a person ended its ad-hoc window was not there for `end`
# to release: the window's ended_at makes it due too.
_ENDED_EARLY = select(windows.c.id).where(windows.c.ended_at.is_not(None))
_DUE = (
    select(marks)
    .where(
        marks.c.released_at.is_(None),
        or_(
            marks.c.ends_at <= bindparam("now", type_=marks.c.ends_at.type),
            marks.c.ad_hoc.in_(_ENDED_EARLY),
        ),
    )
    .order_by(marks.c.incident_id, marks.c.id)
    .limit(bindparam("limit"))
)
_RELEASE = (
    update(marks)
    .where(marks.c.id == bindparam("mark_id"), marks.c.released_at.is_(None))
    .values(released_at=bindparam("at"))
)


@cache
def _mark(dialect: str) -> Any:
    return (
        upsert(dialect, marks)
        .values(
            incident_id=bindparam("incident_id"),
            window_name=bindparam("window_name"),
            ends_at=bindparam("ends_at"),
            ad_hoc=bindparam("ad_hoc"),
            classified=bindparam("classified"),
            severity=bindparam("severity"),
        )
        .on_conflict_do_nothing(
            index_elements=[marks.c.incident_id, marks.c.window_name, marks.c.ends_at]
        )
    )


def _window(row: Row[Any]) -> AdHocWindow:
    return AdHocWindow(
        id=row.id,
        service=row.service,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        opened_by=Actor.parse(row.opened_by),
        reason=row.reason,
        ended_at=row.ended_at,
        ended_by=Actor.parse(row.ended_by) if row.ended_by is not None else None,
    )


def _severity(text: str | None) -> Severity | None:
    return Severity(text) if text is not None else None


def _to_mark(row: Row[Any]) -> MaintenanceMark:
    return MaintenanceMark(
        id=row.id,
        incident_id=row.incident_id,
        window=row.window_name,
        ends_at=row.ends_at,
        ad_hoc=row.ad_hoc,
        classified=_severity(row.classified),
        severity=_severity(row.severity),
    )


class SqlMaintenanceRepository(Repository):
    _read_at: datetime | None = None
    _not_over: tuple[AdHocWindow, ...] = ()

    async def open(self, new: NewWindow) -> AdHocWindow:
        row = (
            await self._execute(
                _OPEN,
                {
                    "service": new.service,
                    "starts_at": new.starts_at,
                    "ends_at": new.ends_at,
                    "opened_by": str(new.opened_by),
                    "reason": new.reason,
                },
            )
        ).one()
        self._read_at = None
        return _window(row)

    async def current(self, now: datetime) -> Sequence[AdHocWindow]:
        # Instants only move forward within a transaction; an earlier one reads again.
        if self._read_at is None or now < self._read_at:
            # Reads only its own table: the batch's held writes need not go out first.
            result = await self._execute(_NOT_OVER, {"now": now}, reads=())
            self._not_over = tuple(_window(row) for row in result)
            self._read_at = now
        return [w for w in self._not_over if w.running_at(now)]

    async def end(self, window_id: int, *, at: datetime, by: Actor) -> AdHocWindow | None:
        row = (
            await self._execute(_END, {"window_id": window_id, "at": at, "by": str(by)})
        ).one_or_none()
        self._read_at = None
        return _window(row) if row is not None else None

    async def open_incidents(self, service: str | None) -> Sequence[int]:
        if service is None:
            result = await self._execute(_OPEN_INCIDENTS)
        else:
            result = await self._execute(_OPEN_INCIDENTS_OF, {"service": service})
        return [row.id for row in result]

    async def mark(self, mark: NewMark) -> None:
        await self._execute(
            _mark(self._dialect),
            {
                "incident_id": mark.incident_id,
                "window_name": mark.window,
                "ends_at": mark.ends_at,
                "ad_hoc": mark.ad_hoc,
                "classified": mark.classified.value if mark.classified else None,
                "severity": mark.severity.value if mark.severity else None,
            },
        )

    async def marks_of(self, window_id: int) -> Sequence[MaintenanceMark]:
        result = await self._execute(_MARKS_OF, {"window_id": window_id})
        return [_to_mark(row) for row in result]

    async def due_marks(self, now: datetime, *, limit: int) -> Sequence[MaintenanceMark]:
        result = await self._execute(_DUE, {"now": now, "limit": limit})
        return [_to_mark(row) for row in result]

    async def release(self, mark_id: int, *, at: datetime) -> bool:
        result = await self._execute(_RELEASE, {"mark_id": mark_id, "at": at})
        return result.rowcount == 1
