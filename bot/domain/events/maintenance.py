"""Timeline bodies about maintenance windows (``bot.policy.maintenance``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.events.body import OneKind
from bot.domain.events.kinds import EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceApplied(OneKind, kind=EventKind.MAINTENANCE_APPLIED):
    """The incident opened inside a maintenance window: which window (``window``, and
    ``ad_hoc`` its id when a person opened it), its span in UTC (ISO 8601), the severity the
    policy classified (``classified``) and the one it opened at (``severity``)."""

    window: str
    starts_at: str
    ends_at: str
    classified: str
    severity: str
    ad_hoc: int | None = None
