"""What a live event carries: one timeline entry as a small JSON object, encoded once by the
feed and written as is to every stream that wants it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.ports.live import FeedEntry
from bot.services.entry_text import describe

log = logging.getLogger("firebreak.live")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One timeline entry for the streams: its global ``id`` (the event id a client resumes
    from), its incident, and ``data``, the JSON object as text (one line)."""

    id: int
    incident_id: int
    data: str


def live_event(item: FeedEntry) -> LiveEvent:
    """The event of ``item``: id, incident_id, seq, kind, at (UTC, ISO 8601), actor, the
    timeline's sentence for it (``text``, the same words as the Slack thread and the
    postmortem, unescaped: it is data, never markup), and the incident's current status,
    severity, title and service."""
    entry = item.entry
    try:
        text = describe(entry)
    except Exception:
        # describe is lenient by design; should it still fail on some stored body, that one
        # entry goes out with its kind for words rather than stalling every stream for good.
        log.exception("timeline entry %d: no sentence for it, sent with its kind", item.id)
        text = entry.kind
    data = {
        "id": item.id,
        "incident_id": entry.incident_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "at": entry.at.isoformat(),
        "actor": str(entry.actor),
        "text": text,
        "status": item.status,
        "severity": item.severity,
        "title": item.title,
        "service": item.service,
    }
    # ASCII only: a line separator or any control character inside a string is escaped, so
    # the object is always one line of the stream.
    return LiveEvent(
        id=item.id,
        incident_id=entry.incident_id,
        data=json.dumps(data, ensure_ascii=True, separators=(",", ":")),
    )
