"""The inbox of received webhook deliveries, unique on (source, key)."""

from __future__ import annotations

from sqlalchemy import update

from bot.domain import Delivery, DeliveryOutcome, Source
from db.repositories.base import Repository
from db.tables import deliveries


class SqlDeliveryRepository(Repository):
    async def record(self, delivery: Delivery) -> bool:
        insert = (
            self._upsert(deliveries)
            .values(
                source=delivery.source.value,
                key=delivery.key,
                event_type=delivery.event_type,
                received_at=delivery.received_at,
                body=delivery.body,
                detail="",
            )
            .on_conflict_do_nothing(index_elements=[deliveries.c.source, deliveries.c.key])
            .returning(deliveries.c.id)
        )
        return (await self._execute(insert)).first() is not None

    async def set_outcome(
        self, source: Source, key: str, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        """Record what became of a delivery; a delivery never recorded is left alone."""
        await self._execute(
            update(deliveries)
            .where(deliveries.c.source == source.value, deliveries.c.key == key)
            .values(outcome=outcome.value, detail=detail)
        )
