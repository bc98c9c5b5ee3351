"""People joining an incident channel become participants on its timeline."""

from __future__ import annotations

from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import ParticipantJoined
from bot.domain.incident import Delivery, DeliveryOutcome, Source
from bot.ports import Store, UnitOfWork
from bot.services.transactions import in_transaction

EVENT_TYPE = "member_joined_channel"


async def record_participant(
    store: Store, *, event_id: str, channel: str, who: Actor, at: datetime, raw: bytes
) -> bool:
    """Record the join once per Slack ``event_id``; ``False`` for a duplicate delivery.
    ``who`` is the chat user who joined (the Slack adapter builds it)."""

    async def work(uow: UnitOfWork) -> bool:
        if not await uow.deliveries.record(Delivery(Source.SLACK, event_id, at, raw, EVENT_TYPE)):
            return False
        incident_id = await uow.chat_refs.incident_for_channel(channel)
        if incident_id is None or not who.id:
            await uow.deliveries.set_outcome(
                Source.SLACK, event_id, DeliveryOutcome.IGNORED, "not an incident channel"
            )
            return True
        await uow.incidents.get(incident_id, for_update=True)
        await uow.timeline.append(
            incident_id,
            at=at,
            actor=who,
            event=ParticipantJoined(user=who.id),
        )
        await uow.deliveries.set_outcome(Source.SLACK, event_id, DeliveryOutcome.PROCESSED)
        return True

    return await in_transaction(store, work)
