"""Text that is safe to hand to Slack.

Untrusted text (alert labels, titles, user notes) goes through ``escape`` so that Slack's
control sequences (``<!channel>``, ``<@U123>``, ``<https://evil|Approve>``) arrive as inert
characters. Only ids firebreak itself vouches for become mentions, through ``mention``.
Truncation is visible and never splits an entity (``&amp;``) or a control sequence (``<…>``),
so a cut can neither break the display nor turn half an escape back into markup.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.actor import SLACK, Actor
from bot.errors import BadRequest

# Defined in the core, so the inbound Slack adapter (handlers/slack) escapes its replies
# without importing this outbound adapter.
from bot.text import escape as escape
from bot.text import inert as inert
from bot.text import is_group_id as is_group_id
from bot.text import is_user_id as is_user_id
from bot.text import link as link

TRUNCATED = "… (truncated)"
ELLIPSIS = "…"


def truncate(text: str, limit: int, *, marker: str = TRUNCATED) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``marker`` when it was cut.

    The cut backs off to before an entity (``&…;``) or a control sequence (``<…>``) it would
    split, so the result stays well formed. The input is expected to be escaped already."""
    if limit < 0:
        raise BadRequest(f"truncation limit must not be negative, got {limit}")
    if len(text) <= limit:
        return text
    if len(marker) >= limit:
        return marker[:limit]
    cut = limit - len(marker)
    head = text[:cut]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    lt = head.rfind("<")
    if lt != -1 and ">" not in head[lt:]:
        head = head[:lt]
    return head + marker


def mrkdwn(text: str, limit: int, *, marker: str = TRUNCATED) -> str:
    """Untrusted text made inert and cut to fit a ``mrkdwn`` field of ``limit`` characters."""
    return truncate(inert(text), limit, marker=marker)


def plain(text: str, limit: int, *, marker: str = ELLIPSIS) -> str:
    """Untrusted text for a ``plain_text`` object (headers, buttons), escaped and cut.

    Never empty, because Slack refuses an empty text object."""
    return truncate(escape(text), limit, marker=marker) or "-"


def mention(slack_id: str) -> str:
    """A mention of a trusted user (``U…``/``W…``) or user group (``S…``) id.

    Raises ``BadRequest`` for anything else, so a display name can never be passed off as
    an id."""
    if is_user_id(slack_id):
        return f"<@{slack_id}>"
    if is_group_id(slack_id):
        return f"<!subteam^{slack_id}>"
    raise BadRequest(f"not a Slack user or user group id: {slack_id!r}")


def who(actor: str) -> str:
    """A timeline actor for display: ``slack:U123`` becomes a mention, anything else is
    shown escaped (``system:alertmanager``, ``bot:firebreak``)."""
    parsed = Actor.parse(actor)
    if parsed.source == SLACK and (is_user_id(parsed.id) or is_group_id(parsed.id)):
        return mention(parsed.id)
    if is_user_id(actor) or is_group_id(actor):
        return mention(actor)
    return escape(actor)


def date(at: datetime, *, layout: str = "{date_short_pretty} {time}") -> str:
    """Slack's ``<!date^…>`` formatting (shown in the reader's time zone), with a UTC
    fallback for clients that do not render it."""
    utc = at.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{layout}|{fallback}>"
