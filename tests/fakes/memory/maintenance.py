"""Ad-hoc maintenance windows and marks in memory, as ``db.repositories.maintenance`` keeps
them in SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.maintenance import AdHocWindow, MaintenanceMark, NewMark, NewWindow


@dataclasses.dataclass
class MaintenanceTable:
    """The rows, copied per transaction like the rest of the memory store's state."""

    windows: dict[int, AdHocWindow] = dataclasses.field(default_factory=dict)
    marks: dict[int, tuple[MaintenanceMark, datetime | None]] = dataclasses.field(
        default_factory=dict
    )
    next_id: int = 1

    def copy(self) -> MaintenanceTable:
        return MaintenanceTable(dict(self.windows), dict(self.marks), self.next_id)


class MemoryMaintenance:
    """The ``MaintenanceRepository`` port over a ``MaintenanceTable``; ``open_of`` lists the
    open incidents as ``(id, service)``."""

    def __init__(
        self, table: MaintenanceTable, open_of: Callable[[], Sequence[tuple[int, str]]]
    ) -> None:
        self._table = table
        self._open_of = open_of

    async def open(self, new: NewWindow) -> AdHocWindow:
        window = AdHocWindow(
            self._table.next_id,
            new.service,
            new.starts_at,
            new.ends_at,
            new.opened_by,
            new.reason,
        )
        self._table.windows[window.id] = window
        self._table.next_id += 1
        return window

    async def current(self, now: datetime) -> Sequence[AdHocWindow]:
        return [w for _, w in sorted(self._table.windows.items()) if w.running_at(now)]

    async def end(self, window_id: int, *, at: datetime, by: Actor) -> AdHocWindow | None:
        window = self._table.windows.get(window_id)
        if window is None or window.ended_at is not None:
            return None
        ended = dataclasses.replace(window, ended_at=at, ended_by=by)
        self._table.windows[window_id] = ended
        return ended

    async def open_incidents(self, service: str | None) -> Sequence[int]:
        return sorted(i for i, s in self._open_of() if service is None or s == service)

    async def mark(self, mark: NewMark) -> None:
        key = (mark.incident_id, mark.window, mark.ends_at)
        if any((m.incident_id, m.window, m.ends_at) == key for m, _ in self._table.marks.values()):
            return
        stored = MaintenanceMark(self._table.next_id, **dataclasses.asdict(mark))
        self._table.marks[stored.id] = (stored, None)
        self._table.next_id += 1

    def _unreleased(self) -> list[MaintenanceMark]:
        found = [m for m, released in self._table.marks.values() if released is None]
        return sorted(found, key=lambda m: (m.incident_id, m.id))

    async def marks_of(self, window_id: int) -> Sequence[MaintenanceMark]:
        return [m for m in self._unreleased() if m.ad_hoc == window_id]

    async def due_marks(self, now: datetime, *, limit: int) -> Sequence[MaintenanceMark]:
        ended = {i for i, w in self._table.windows.items() if w.ended_at is not None}
        due = [m for m in self._unreleased() if m.ends_at <= now or m.ad_hoc in ended]
        return due[:limit]

    async def release(self, mark_id: int, *, at: datetime) -> bool:
        found = self._table.marks.get(mark_id)
        if found is None or found[1] is not None:
            return False
        self._table.marks[mark_id] = (found[0], at)
        return True
