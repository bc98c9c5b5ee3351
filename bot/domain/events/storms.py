"""Timeline bodies about storms, merges and splits: many groups collected in one incident
(``bot.services.incidents.storm``), an incident merged into another and a group split out
of one (``/incident merge`` and ``/incident split``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.events.body import OneKind
from bot.domain.events.kinds import EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class StormFormed(OneKind, kind=EventKind.STORM_FORMED):
    """``incidents`` incidents for ``storm_key`` (``service=lnn-service``) opened within
    ``window`` (the policy's ``threshold`` reached): this one became the storm incident, and
    the others still open and unacknowledged were merged into it (``merged``)."""

    storm_key: str
    incidents: int
    merged: int
    threshold: int
    window: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StormJoined(OneKind, kind=EventKind.STORM_JOINED):
    """The new firing alerts of group ``group_key`` joined the storm instead of opening an
    incident of their own: ``alerts`` of them, named ``alertnames``."""

    storm_key: str
    group_key: str
    alerts: int
    alertnames: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentMerged(OneKind, kind=EventKind.INCIDENT_MERGED):
    """Incident ``source`` was merged into ``target``: its ``alerts`` moved there and it
    closed. On both timelines; ``reason`` is ``storm`` or ``command``."""

    source: int
    target: int
    alerts: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentSplit(OneKind, kind=EventKind.INCIDENT_SPLIT):
    """Group ``group_key`` was split out of incident ``source`` into its own, ``target``:
    its ``alerts`` moved there. On both timelines."""

    group_key: str
    source: int
    target: int
    alerts: int
