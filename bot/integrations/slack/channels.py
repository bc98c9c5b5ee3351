"""Incident channel names and topics.

A name is a pure function of the incident (creation date in UTC, zero-padded id, a slug of
the alert name or title), so every replica and every retry asks Slack for the same name, and
``name_taken`` means "probably already created by us" rather than a race to a new name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from bot.domain.incident import Incident
from bot.integrations.slack.text import escape, truncate

MAX_NAME = 80
MAX_TOPIC = 250
PREFIX = "inc"
FALLBACK_SLUG = "incident"

# `LNNHighLatency` → `LNN-High-Latency`: a boundary before an upper-case letter that follows a
# lower-case letter or digit, and before the last capital of an acronym followed by lower case.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lower-case letters, digits and single hyphens; accents folded, other scripts dropped."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALLOWED.sub("-", _CAMEL.sub("-", ascii_text).lower()).strip("-")


def _subject(incident: Incident) -> str:
    """The alert name is the short, stable description; a declared incident has only its title."""
    name = incident.labels.get("alertname", "")
    return slug(name) or slug(incident.title) or FALLBACK_SLUG


def channel_name(incident: Incident, *, attempt: int = 0) -> str:
    """``inc-20261122-0042-lnn-high-latency``: at most 80 characters of ``[a-z0-9-_]``.

    ``attempt`` > 0 appends ``-2``, ``-3``… for when the name belongs to a channel that is not
    this incident's (e.g. an archived one); the suffix survives the length cut."""
    head = f"{PREFIX}-{_utc_day(incident.created_at)}-{incident.id:04d}"
    suffix = f"-{attempt + 1}" if attempt > 0 else ""
    room = MAX_NAME - len(head) - len(suffix) - 1
    subject = _subject(incident)[: max(room, 0)].rstrip("-")
    name = f"{head}-{subject}" if subject else head
    return (name + suffix)[:MAX_NAME]


def _utc_day(at: datetime) -> str:
    """Stored times are aware UTC; a naive one is taken as UTC rather than local time."""
    return (at.astimezone(UTC) if at.utcoffset() is not None else at).strftime("%Y%m%d")


def channel_topic(incident: Incident) -> str:
    """One line for the channel topic: severity, status, service, title, incident number."""
    text = (
        f"{incident.severity.value} · {incident.status.value} · {escape(incident.service)} · "
        f"{escape(' '.join(incident.title.split()))}"
    )
    tail = f" · firebreak #{incident.id}"
    return truncate(text, MAX_TOPIC - len(tail), marker="…") + tail
