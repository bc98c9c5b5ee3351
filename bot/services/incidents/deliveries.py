"""Deliveries that carry nothing to apply are still kept, so nothing received is lost."""

from __future__ import annotations

from bot.domain.incident import Delivery, DeliveryOutcome
from bot.ports import Store


async def record_ignored(store: Store, delivery: Delivery, detail: str) -> DeliveryOutcome:
    """Store ``delivery`` as ignored; ``DUPLICATE`` if it was already stored."""
    async with store.transaction() as uow:
        if not await uow.deliveries.record(delivery):
            return DeliveryOutcome.DUPLICATE
        await uow.deliveries.set_outcome(
            delivery.source, delivery.key, DeliveryOutcome.IGNORED, detail
        )
    return DeliveryOutcome.IGNORED
