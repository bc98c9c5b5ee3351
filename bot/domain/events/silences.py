"""Typed bodies of the silence entries: a silence made, expired or refused; a broad silence
asked for and its approval, denial or lapse; and the look at Alertmanager after a silence.

A broad silence request is named by the ``seq`` of its ``silence.requested`` entry in the
incident's timeline (``request``); a decision (approved, denied, lapsed) closes it, and the
``silence.created`` or ``silence.refused`` that follows an approval names it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.events.body import Family, OneKind
from bot.domain.events.kinds import EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceCreated(OneKind, kind=EventKind.SILENCE_CREATED):
    """A silence was created in Alertmanager for the incident's alerts: its id there, its
    matchers as Alertmanager writes them (``service="x"``), when it ends (RFC 3339) and who
    made it (the actor string). ``broad``: it may match alerts of other incidents too; a
    broad silence someone else approved names the ``request`` and who ``approved_by``."""

    silence_id: str = ""
    matchers: tuple[str, ...] = ()
    ends_at: str = ""
    by: str = ""
    broad: bool = False
    request: int | None = None
    approved_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceExpired(OneKind, kind=EventKind.SILENCE_EXPIRED):
    """The incident's silence was expired (``/incident unsilence``), or had already ended
    when that was asked or when firebreak noticed its end; ``ends_at`` is when it stopped
    silencing."""

    silence_id: str = ""
    matchers: tuple[str, ...] = ()
    ends_at: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceRequested(OneKind, kind=EventKind.SILENCE_REQUESTED):
    """Someone who is not an approver asked for a broad silence: its matchers, how long it
    would last once approved (seconds), why it is broad, and until when an approver may
    approve it (RFC 3339)."""

    matchers: tuple[str, ...] = ()
    seconds: int = 0
    by: str = ""
    why: str = ""
    expires_at: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceDecision(
    Family,
    kinds=(
        EventKind.SILENCE_APPROVED,
        EventKind.SILENCE_DENIED,
        EventKind.SILENCE_REQUEST_EXPIRED,
    ),
):
    """What became of the broad silence ``request``: approved by ``by`` (its silence is
    created next), denied by an approver or withdrawn by its requester, or lapsed unapproved
    (``by`` is firebreak; ``reason`` says why)."""

    kind: EventKind
    request: int = 0
    by: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceRefused(OneKind, kind=EventKind.SILENCE_REFUSED):
    """A silence was not made: who asked (or clicked Approve on ``request``), with which
    matchers, and why (too broad, Alertmanager refused it or could not be reached, not an
    approver)."""

    matchers: tuple[str, ...] = ()
    by: str = ""
    why: str = ""
    request: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceChecked(OneKind, kind=EventKind.SILENCE_CHECKED):
    """After a silence ended (``after``: ``unsilence`` or ``end``) firebreak asked
    Alertmanager which of the incident's silenced alerts still fire, because it is never told
    of those that resolved while silenced: ``firing`` still do, ``resolved`` (their
    alertnames) were gone and are resolved now."""

    after: str = ""
    firing: int = 0
    resolved: tuple[str, ...] = ()
