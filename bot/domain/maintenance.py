"""Ad-hoc maintenance windows (``/incident maintenance start``) as stored, and the marks that
tie a window to the incidents it touched, so its end reaches each of them once.

What a window does to an alert (the effect, which recurring window covers an instant) is the
policy's business (``bot.policy.maintenance``); these are the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.incident import Severity


@dataclass(frozen=True, slots=True)
class NewWindow:
    """An ad-hoc window to open: for ``service`` (``None``: every service), in UTC."""

    service: str | None
    starts_at: datetime
    ends_at: datetime
    opened_by: Actor
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AdHocWindow:
    """A stored ad-hoc window. ``ended_at`` is set when a person ended it early; a window
    that ran its course keeps ``ended_at`` ``None`` and is over once ``ends_at`` passed."""

    id: int
    service: str | None
    starts_at: datetime
    ends_at: datetime
    opened_by: Actor
    reason: str = ""
    ended_at: datetime | None = None
    ended_by: Actor | None = None

    @property
    def name(self) -> str:
        """How the window is called on timelines and in replies."""
        return f"ad-hoc maintenance #{self.id}"

    def running_at(self, at: datetime) -> bool:
        return self.ended_at is None and self.starts_at <= at < self.ends_at

    def for_service(self, service: str | None) -> bool:
        """Whether this is the window opened for ``service`` (``None``: the one for all)."""
        return self.service == service


@dataclass(frozen=True, slots=True)
class NewMark:
    """An incident a window touched: held by it at intake (``classified`` is the severity
    the policy gave, ``severity`` the one it opened at), or open when an ad-hoc window
    started (both ``None``). ``ends_at`` is when the window ends (for a recurring window, the
    occurrence's end the policy computed); ``ad_hoc`` the ad-hoc window's id."""

    incident_id: int
    window: str
    ends_at: datetime
    ad_hoc: int | None = None
    classified: Severity | None = None
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceMark:
    """A stored ``NewMark``, not yet released (its window's end not yet recorded)."""

    id: int
    incident_id: int
    window: str
    ends_at: datetime
    ad_hoc: int | None = None
    classified: Severity | None = None
    severity: Severity | None = None

    @property
    def held(self) -> bool:
        """The window held this incident's severity down (not only marked it)."""
        return self.classified is not None and self.severity is not None
