"""Typed bodies of the escalation and notification timeline entries: a level of the path
fired, the response target passed, someone paged by hand, and a page or email that could
not go out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.domain.escalation import Recipient, Via
from bot.domain.events.body import OneKind
from bot.domain.events.kinds import EventKind

# Who was told, stored as a list of ``{"via", "who", "address"}`` objects (the codec keeps
# bodies flat JSON); ``notified`` and ``recipients_of`` convert.
Notified = tuple[Mapping[str, str], ...]


def notified(recipients: Iterable[Recipient]) -> Notified:
    """The stored form of ``recipients``."""
    return tuple({"via": r.via.value, "who": r.who, "address": r.address} for r in recipients)


def recipients_of(items: Iterable[Mapping[str, str]]) -> tuple[Recipient, ...]:
    """The recipients a stored body lists; an item with an unknown ``via`` is skipped (an
    entry written by a later version)."""
    out: list[Recipient] = []
    for item in items:
        try:
            via = Via(str(item.get("via", "")))
        except ValueError:
            continue
        out.append(Recipient(via, str(item.get("who", "")), str(item.get("address", ""))))
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationFired(OneKind, kind=EventKind.ESCALATION_FIRED):
    """Level ``level`` (0-based) of ``severity``'s path fired ``after_seconds`` into the path
    and ``late_seconds`` after it was due (the bot was down, or busy); ``notified`` lists who
    was told, ``upgrade`` the severity it raised the incident to. ``name`` is the level's."""

    severity: str
    level: int
    levels: int
    after_seconds: int
    late_seconds: int = 0
    name: str = ""
    notified: Notified = ()
    upgrade: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseOverdue(OneKind, kind=EventKind.RESPONSE_OVERDUE):
    """Nobody acknowledged within the response target of ``severity``. ``level`` is the
    furthest level of the path that had fired, 0-based as stored (0: the first level); people
    read it from 1 (``level 1/4``), so add one when showing it."""

    severity: str
    target_minutes: int
    level: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequested(OneKind, kind=EventKind.PAGE_REQUESTED):
    """Someone paged by hand (``/incident page``): who was told, how."""

    notified: Notified = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationUnconfigured(OneKind, kind=EventKind.NOTIFICATION_UNCONFIGURED):
    """A level or a person wanted ``via`` (page, email) but firebreak has no settings for it:
    written once per incident and channel."""

    via: str
    setting: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationFailed(OneKind, kind=EventKind.NOTIFICATION_FAILED):
    """A page or email (outbox row ``outbox_id``) was refused for good: ``error`` is the
    service's message."""

    target: str
    method: str
    error: str
    outbox_id: int | None = None
    address: str = ""
