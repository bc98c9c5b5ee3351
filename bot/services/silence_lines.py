"""The timeline lines of the silence entries (``describe`` in ``bot.services.entry_text``
hands them here): made, expired, asked for, decided, refused, and the look after one ended."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain import events as ev
from bot.domain.actor import SLACK

Format = Callable[[str], str]
Show = Callable[[object], str]

Silencing = (
    ev.SilenceCreated
    | ev.SilenceExpired
    | ev.SilenceRequested
    | ev.SilenceDecision
    | ev.SilenceRefused
    | ev.SilenceChecked
)

_DECIDED = {
    ev.EventKind.SILENCE_APPROVED: "approved",
    ev.EventKind.SILENCE_DENIED: "denied",
    ev.EventKind.SILENCE_REQUEST_EXPIRED: "lapsed unapproved",
}


def _who(actor: str, show: Show, user: Format) -> str:
    """An actor string (``slack:U1``) as a mention for a Slack user, else as stored."""
    source, _, ident = actor.partition(":")
    return user(show(ident)) if source == SLACK and ident else show(actor) or "?"


def _matchers(matchers: tuple[str, ...], show: Show) -> str:
    return ", ".join(show(m) for m in matchers) or "?"


def silence_line(event: Silencing, show: Show, user: Format) -> str:
    """One line for a silence entry."""
    match event:
        case ev.SilenceCreated():
            broad = " (broad: may silence other incidents' alerts)" if event.broad else ""
            line = f"Silenced in Alertmanager until {show(event.ends_at) or '?'}: "
            line += _matchers(event.matchers, show) + broad
            if event.approved_by:
                line += f"; asked by {_who(event.by, show, user)}, "
                line += f"approved by {_who(event.approved_by, show, user)}"
            return line
        case ev.SilenceExpired():
            return (
                f"Silence {show(event.silence_id) or '?'} expired at {show(event.ends_at) or '?'}"
            )
        case ev.SilenceRequested():
            return (
                f"{_who(event.by, show, user)} asks an approver for a broad silence "
                f"({_matchers(event.matchers, show)}): {show(event.why) or '?'}; "
                f"approvable until {show(event.expires_at) or '?'}"
            )
        case ev.SilenceDecision():
            line = f"Broad silence request {show(event.request) or '?'} {_DECIDED[event.kind]}"
            line += f" by {_who(event.by, show, user)}" if event.by else ""
            return line + (f": {show(event.reason)}" if event.reason else "")
        case ev.SilenceRefused():
            about = f" (request {show(event.request)})" if event.request is not None else ""
            return (
                f"Silence refused{about} for {_who(event.by, show, user)} "
                f"({_matchers(event.matchers, show)}): {show(event.why) or '?'}"
            )
        case ev.SilenceChecked():
            after = "the silence ended" if event.after == "end" else "unsilence"
            firing = event.firing
            still = f"{firing} silenced alert{'' if firing == 1 else 's'} still fire"
            still += "s" if firing == 1 else ""
            gone = ", ".join(show(n) for n in event.resolved)
            line = f"After {after}, {still} in Alertmanager"
            return line + (f"; resolved while silenced, resolved now: {gone}" if gone else "")
