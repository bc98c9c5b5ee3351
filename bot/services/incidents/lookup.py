"""Finding the incident a Slack request is about."""

from __future__ import annotations

from bot.errors import BadRequest
from bot.ports import Store


async def incident_for(store: Store, incident_id: int | None, *, channel: str) -> int:
    """The given id, else the incident whose channel the command was typed in."""
    if incident_id is not None:
        return incident_id
    async with store.transaction() as uow:
        found = await uow.chat_refs.incident_for_channel(channel) if channel else None
    if found is None:
        raise BadRequest(
            "this is not an incident channel: add the incident id, e.g. `/incident ack 42`"
        )
    return found
