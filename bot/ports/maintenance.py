"""Storage of ad-hoc maintenance windows and of the incidents windows touched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.actor import Actor
from bot.domain.maintenance import AdHocWindow, MaintenanceMark, NewMark, NewWindow


class MaintenanceRepository(Protocol):
    async def open(self, new: NewWindow) -> AdHocWindow: ...

    async def current(self, now: datetime) -> Sequence[AdHocWindow]:
        """The ad-hoc windows running at ``now``, oldest first. Intake asks for every alert
        group it applies, so an adapter reads them once per transaction (windows are opened
        and ended in transactions of their own)."""
        ...

    async def end(self, window_id: int, *, at: datetime, by: Actor) -> AdHocWindow | None:
        """End a running window early; ``None`` when it already ended (or never existed)."""
        ...

    async def open_incidents(self, service: str | None) -> Sequence[int]:
        """The ids of the open incidents of ``service`` (``None``: of every service), in id
        order: the ones a window starting now touches."""
        ...

    async def mark(self, mark: NewMark) -> None:
        """Record that a window touched an incident; a second mark of the same incident by
        the same window occurrence changes nothing."""
        ...

    async def marks_of(self, window_id: int) -> Sequence[MaintenanceMark]:
        """The unreleased marks of one ad-hoc window, in incident order."""
        ...

    async def due_marks(self, now: datetime, *, limit: int) -> Sequence[MaintenanceMark]:
        """Unreleased marks whose window ended by ``now`` (or whose ad-hoc window a person
        ended), in incident order."""
        ...

    async def release(self, mark_id: int, *, at: datetime) -> bool:
        """Mark the window's end recorded; false when another transaction did first."""
        ...
