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


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceStarted(OneKind, kind=EventKind.MAINTENANCE_STARTED):
    """An ad-hoc window (``ad_hoc`` its id) started while the incident was open:
    ``service`` it covers (empty: every service), its span in UTC (ISO 8601) and the
    severity new alerts open at during it (``severity``). The incident itself keeps its
    severity: it already pages (or not) as it should."""

    window: str
    service: str = ""
    starts_at: str
    ends_at: str
    severity: str
    ad_hoc: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceEnded(OneKind, kind=EventKind.MAINTENANCE_ENDED):
    """The window that touched the incident is over: ended early by a person
    (``how`` ``ended``, at ``ended_at``) or run its course (``expired``)."""

    window: str
    ended_at: str
    how: str
    ad_hoc: int | None = None
