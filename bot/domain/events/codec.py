"""One way between a typed body and the stored JSON: ``encode`` for writers, ``decode`` for
readers.

Decoding is lenient, because entries outlive the code that wrote them: keys it does not know
are ignored, a missing key gets the field's default (or an empty value), and a kind no
version of firebreak wrote decodes to ``None`` so readers can show it generically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, get_type_hints

from bot.domain.events import actions as act
from bot.domain.events import bodies as bod
from bot.domain.events import escalation as esc
from bot.domain.events import graphs as grf
from bot.domain.events import maintenance as mnt
from bot.domain.events import silences as sil
from bot.domain.events import storms as stm
from bot.domain.events.kinds import EventKind, known_kind
from bot.domain.incident import JSON

Event = (
    bod.IncidentOpened
    | bod.IncidentFlapped
    | bod.StatusChanged
    | bod.SeverityChanged
    | bod.AlertChanged
    | bod.AlertRepeat
    | bod.AlertsTruncated
    | bod.SymptomsJoined
    | bod.Note
    | bod.CommanderAssigned
    | bod.CommandViewed
    | bod.PostmortemRequested
    | bod.ParticipantJoined
    | bod.PagerDutyLinked
    | bod.PagerDutyReceived
    | sil.SilenceCreated
    | sil.SilenceExpired
    | sil.SilenceRequested
    | sil.SilenceDecision
    | sil.SilenceRefused
    | sil.SilenceChecked
    | act.AboutAction
    | act.ActionDiagnosed
    | act.ActionRequestRefused
    | esc.EscalationFired
    | esc.ResponseOverdue
    | esc.PageRequested
    | esc.NotificationUnconfigured
    | esc.NotificationFailed
    | mnt.MaintenanceApplied
    | mnt.MaintenanceStarted
    | mnt.MaintenanceEnded
    | stm.StormFormed
    | stm.StormJoined
    | stm.IncidentMerged
    | stm.IncidentSplit
    | grf.GraphAttached
    | grf.GraphNotDrawn
)

BODY_TYPES: tuple[type[Event], ...] = (
    bod.IncidentOpened,
    bod.IncidentFlapped,
    bod.StatusChanged,
    bod.SeverityChanged,
    bod.AlertChanged,
    bod.AlertRepeat,
    bod.AlertsTruncated,
    bod.SymptomsJoined,
    bod.Note,
    bod.CommanderAssigned,
    bod.CommandViewed,
    bod.PostmortemRequested,
    bod.ParticipantJoined,
    bod.PagerDutyLinked,
    bod.PagerDutyReceived,
    sil.SilenceCreated,
    sil.SilenceExpired,
    sil.SilenceRequested,
    sil.SilenceDecision,
    sil.SilenceRefused,
    sil.SilenceChecked,
    act.ActionRequested,
    act.ActionJoined,
    act.ActionRefused,
    act.ActionApproval,
    act.ActionDenied,
    act.ActionExpired,
    act.ActionStarted,
    act.ActionApplied,
    act.ActionReconciling,
    act.ActionReconciled,
    act.ActionFinished,
    act.ActionDiagnosed,
    act.ActionRequestRefused,
    esc.EscalationFired,
    esc.ResponseOverdue,
    esc.PageRequested,
    esc.NotificationUnconfigured,
    esc.NotificationFailed,
    mnt.MaintenanceApplied,
    mnt.MaintenanceStarted,
    mnt.MaintenanceEnded,
    stm.StormFormed,
    stm.StormJoined,
    stm.IncidentMerged,
    stm.IncidentSplit,
    grf.GraphAttached,
    grf.GraphNotDrawn,
)
# Each kind's body type; tests/unit/test_events.py checks every kind has exactly one.
BODY_FOR: Mapping[EventKind, type[Event]] = {
    kind: body for body in BODY_TYPES for kind in body.KINDS
}
# Bodies shared by a family of kinds carry the kind as a field.
_KIND_FIELD = "kind"
_EMPTY: Mapping[object, object] = {str: "", int: 0, bool: False}


# Types stored as they are; checked by exact type first because this runs for every field
# of every entry, and an isinstance check against the Mapping ABC is the slow path.
_SCALARS: frozenset[type] = frozenset({str, int, float, bool})


def _plain(value: object) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# Each body type's stored fields as (attribute, JSON key), read once per type.
_STORED: dict[type, tuple[tuple[str, str], ...]] = {}


def _stored_fields(body_type: type) -> tuple[tuple[str, str], ...]:
    fields = _STORED.get(body_type)
    if fields is None:
        fields = tuple(
            (spec.name, spec.metadata.get("key", spec.name))
            for spec in dataclasses.fields(body_type)
            if spec.name != _KIND_FIELD
        )
        _STORED[body_type] = fields
    return fields


def encode(event: Event) -> tuple[EventKind, JSON]:
    """The stored kind and JSON body of ``event``; fields left ``None`` are not stored."""
    if not isinstance(event, BODY_TYPES):
        raise TypeError(f"{type(event).__name__} is not a timeline event body")
    body: JSON = {}
    for name, key in _stored_fields(type(event)):
        value = getattr(event, name)
        if value is not None:
            body[key] = _plain(value)
    return event.kind, body


_HINTS: dict[type[Event], dict[str, Any]] = {}


def _hints(body_type: type[Event]) -> dict[str, Any]:
    if body_type not in _HINTS:
        _HINTS[body_type] = get_type_hints(body_type)
    return _HINTS[body_type]


def decode(kind: str, body: Mapping[str, object]) -> Event | None:
    """The typed body of a stored entry, or ``None`` for a kind firebreak never wrote."""
    known = known_kind(kind)
    if known is None:
        return None
    body_type = BODY_FOR[known]
    hints = _hints(body_type)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(body_type):
        if spec.name == _KIND_FIELD:
            values[_KIND_FIELD] = known
            continue
        value = body.get(spec.metadata.get("key", spec.name))
        if value is not None:
            values[spec.name] = value
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            values[spec.name] = _EMPTY.get(hints[spec.name])
    return body_type(**values)
