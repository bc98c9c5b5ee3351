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
from bot.domain.events.kinds import EventKind, known_kind
from bot.domain.incident import JSON

Event = (
    bod.IncidentOpened
    | bod.StatusChanged
    | bod.SeverityChanged
    | bod.AlertChanged
    | bod.AlertRepeat
    | bod.AlertsTruncated
    | bod.Note
    | bod.CommanderAssigned
    | bod.CommandViewed
    | bod.ParticipantJoined
    | bod.PagerDutyLinked
    | bod.PagerDutyReceived
    | act.AboutAction
    | act.ActionDiagnosed
)

BODY_TYPES: tuple[type[Event], ...] = (
    bod.IncidentOpened,
    bod.StatusChanged,
    bod.SeverityChanged,
    bod.AlertChanged,
    bod.AlertRepeat,
    bod.AlertsTruncated,
    bod.Note,
    bod.CommanderAssigned,
    bod.CommandViewed,
    bod.ParticipantJoined,
    bod.PagerDutyLinked,
    bod.PagerDutyReceived,
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
)
# Each kind's body type; tests/unit/test_events.py checks every kind has exactly one.
BODY_FOR: Mapping[EventKind, type[Event]] = {
    kind: body for body in BODY_TYPES for kind in body.KINDS
}
# Bodies shared by a family of kinds carry the kind as a field.
_KIND_FIELD = "kind"
_EMPTY: Mapping[object, object] = {str: "", int: 0, bool: False}


def _plain(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def encode(event: Event) -> tuple[EventKind, JSON]:
    """The stored kind and JSON body of ``event``; fields left ``None`` are not stored."""
    if not isinstance(event, BODY_TYPES):
        raise TypeError(f"{type(event).__name__} is not a timeline event body")
    body: JSON = {}
    for spec in dataclasses.fields(event):
        value = getattr(event, spec.name)
        if spec.name == _KIND_FIELD or value is None:
            continue
        body[spec.metadata.get("key", spec.name)] = _plain(value)
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
