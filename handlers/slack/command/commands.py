"""The commands ``/incident`` understands, as typed values (parsed by
``handlers.slack.command.parse.parse_command``). ``incident_id`` ``None`` means "the incident of
the channel the command was typed in"; ``namespace`` ``None`` means the policy's default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.domain.incident import Severity
from bot.domain.silence import Matcher


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class ListIncidents:
    scope: Literal["open", "all"] = "open"


@dataclass(frozen=True, slots=True)
class Show:
    incident_id: int


@dataclass(frozen=True, slots=True)
class Declare:
    """``severity``/``service`` ``None``: the service decides (policy default)."""

    title: str
    severity: Severity | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class Resolve:
    incident_id: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SetSeverity:
    severity: Severity
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class SetCommander:
    """``user_id`` is a Slack user id (``U…``/``W…``) taken from the mention Slack sent."""

    user_id: str
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class Postmortem:
    incident_id: int | None = None


@dataclass(frozen=True, slots=True)
class Scale:
    deployment: str
    replicas: int
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """``to_revision`` ``None``: the previous revision, as ``kubectl rollout undo``."""

    deployment: str
    namespace: str | None = None
    to_revision: int | None = None


@dataclass(frozen=True, slots=True)
class Restart:
    deployment: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnose:
    deployment: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Page by hand in an incident's channel: ``user_id`` (a Slack user id taken from the
    mention Slack sent), ``who`` (a key of the policy's on-call rotation), or neither (whom
    the severity's escalation path pages first)."""

    user_id: str | None = None
    who: str | None = None


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call now, for ``service`` (a PagerDuty service or escalation policy name)
    or for everything."""

    service: str | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    """Silence the incident's alerts in Alertmanager: ``duration`` ``None`` is the default
    length; no ``matchers``, the group's common labels; ``broad`` allows matching other
    incidents' alerts (an approver only)."""

    duration: timedelta | None = None
    matchers: tuple[Matcher, ...] = ()
    broad: bool = False


@dataclass(frozen=True, slots=True)
class Unsilence:
    """Expire the silences firebreak made for the incident."""


@dataclass(frozen=True, slots=True)
class MaintenanceList:
    """The maintenance windows running now and the next of each recurring one."""


@dataclass(frozen=True, slots=True)
class MaintenanceStart:
    """Open an ad-hoc window: ``duration`` ``None`` is the default length, ``service``
    ``None`` every service."""

    duration: timedelta | None = None
    service: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MaintenanceEnd:
    """End the ad-hoc window running for ``service`` (``None``: the one for every service)."""

    service: str | None = None


Command = (
    Help
    | ListIncidents
    | Show
    | Declare
    | Ack
    | Resolve
    | SetSeverity
    | SetCommander
    | Note
    | Timeline
    | Postmortem
    | Scale
    | Rollback
    | Restart
    | Diagnose
    | Page
    | OnCall
    | Silence
    | Unsilence
    | MaintenanceList
    | MaintenanceStart
    | MaintenanceEnd
)
"""Every command ``parse_command`` can return; match on it with ``match``/``isinstance``."""
