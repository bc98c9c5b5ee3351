"""The postmortem as a file in the incident's channel: the outbox call a
``postmortem.requested`` entry becomes (``bot.integrations.slack.publisher``)."""

from __future__ import annotations

from bot.domain.actor import SLACK, Actor
from bot.domain.incident import TimelineEntry
from bot.domain.outbox import OutboundCall
from bot.integrations.slack import calls
from bot.services.incidents.postmortem import postmortem_filename
from bot.services.incidents.postmortem_sections import stamp
from bot.text import escape, is_user_id


def _who(actor: Actor) -> str:
    if actor.source == SLACK and is_user_id(actor.id):
        return f"<@{actor.id}>"
    return escape(str(actor))


def postmortem_upload(incident_id: int, document: str, entry: TimelineEntry) -> OutboundCall:
    """The Markdown ``document`` uploaded into the incident's card channel, introduced by a
    line naming who asked for it; the file is not parsed by Slack, so it is not escaped."""
    comment = (
        f"Postmortem of incident #{incident_id}, requested by {_who(entry.actor)}: the record "
        f"up to {stamp(entry.at)}. *Root cause* and *Follow-ups* are yours to write."
    )
    return calls.upload_file(
        incident_id,
        filename=postmortem_filename(incident_id),
        title=f"Postmortem of incident #{incident_id}",
        content=document,
        initial_comment=comment,
    )
