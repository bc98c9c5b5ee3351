"""Where people read an incident: its page on the bot's web UI (``handlers/ui``), under the
public URL people reach the bot at (``FIREBREAK_PUBLIC_URL``). The card, the pages, the
emails and the Slack messages all link here, so the path is spelled once."""

from __future__ import annotations

# The web UI's mount point; its pages are under it.
UI_PREFIX = "/ui"


def incident_path(incident_id: int) -> str:
    """``/ui/incidents/42``: the incident's page, relative to the bot."""
    return f"{UI_PREFIX}/incidents/{incident_id}"


def incident_page(public_url: str, incident_id: int) -> str:
    """``https://firebreak.example/ui/incidents/42``; ``""`` without a public URL (a caller
    that has none links nowhere rather than to a relative path)."""
    if not public_url:
        return ""
    return public_url.rstrip("/") + incident_path(incident_id)
