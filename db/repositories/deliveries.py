"""The inbox of received webhook deliveries, unique on (source, key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    Select,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)

from bot.domain.incident import INBOX_SOURCES, Delivery, DeliveryOutcome, PendingDelivery, Source
from bot.ports import InboxBacklog
from db.repositories.base import Repository, upsert
from db.tables import PENDING_DELIVERY_WHERE, deliveries

# Any constant will do; it names "the inbox processor" among PostgreSQL advisory locks.
INBOX_LOCK_KEY = 0x66697265  # "fire"
_PENDING = DeliveryOutcome.PENDING.value

# A pending inbox row, for every writer of one: this repository and the intake writers that
# bypass SQLAlchemy for speed (db/intake/sqlite.py, db/intake/postgres.py).
INBOX_COLUMNS = (
    "source",
    "key",
    "event_type",
    "received_at",
    "body",
    "outcome",
    "detail",
    "attempts",
)


def inbox_row(delivery: Delivery, received_at: object) -> tuple[object, ...]:
    """The values of ``INBOX_COLUMNS``; ``received_at`` as the writer's driver wants it."""
    return (
        delivery.source.value,
        delivery.key,
        delivery.event_type,
        received_at,
        delivery.body,
        _PENDING,
        "",
        0,
    )


_c = deliveries.c
_SET_OUTCOME = (
    update(deliveries)
    .where(_c.source == bindparam("delivery_source"), _c.key == bindparam("delivery_key"))
    .values(outcome=bindparam("outcome"), detail=bindparam("detail"))
)
_ENQUEUE = insert(deliveries)
_INBOX_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=INBOX_LOCK_KEY)
_INBOX_LOCK_WAIT = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=INBOX_LOCK_KEY)
_DUE = (
    select(_c.id, _c.source, _c.key, _c.received_at, _c.body, _c.event_type, _c.attempts)
    .where(
        PENDING_DELIVERY_WHERE,
        or_(_c.not_before.is_(None), _c.not_before <= bindparam("now")),
    )
    .order_by(_c.id)
    .limit(bindparam("limit", type_=Integer))
)
_TAKE_PENDING = _DUE.where(_c.source == bindparam("source"))


def _take_any_pending() -> Select[Any]:
    # Every source in arrival order, as the first ``limit`` of each source (each read through
    # the partial (source, id) index) merged: the same index intake already maintains, rather
    # than a second one on (id) that every stored delivery would pay for.
    firsts = [_DUE.where(_c.source == source.value).subquery() for source in INBOX_SOURCES]
    merged = union_all(*(select(first) for first in firsts)).subquery()
    return select(merged).order_by(merged.c.id).limit(bindparam("limit", type_=Integer))


_TAKE_ANY_PENDING = _take_any_pending()
_FINISH = (
    update(deliveries)
    .where(_c.id == bindparam("delivery_id"), PENDING_DELIVERY_WHERE)
    .values(outcome=bindparam("outcome"), detail=bindparam("detail"))
)
_DEFER = (
    update(deliveries)
    .where(_c.id == bindparam("delivery_id"), PENDING_DELIVERY_WHERE)
    .values(
        attempts=_c.attempts + 1, not_before=bindparam("not_before"), detail=bindparam("detail")
    )
    .returning(_c.attempts)
)
_COUNT_PENDING = select(func.count()).select_from(deliveries).where(PENDING_DELIVERY_WHERE)
# Both read through a partial index of pending rows: the count without touching the table,
# the first arrival (lowest id) with one probe per source (on (source, id)).
_FIRST_PENDING = (
    select(_c.received_at)
    .where(PENDING_DELIVERY_WHERE, _c.source == bindparam("source"))
    .order_by(_c.id)
    .limit(1)
)


@cache
def _record(dialect: str) -> Executable:
    return (
        upsert(dialect, deliveries)
        .on_conflict_do_nothing(index_elements=[_c.source, _c.key])
        .returning(_c.id)
    )


class SqlDeliveryRepository(Repository):
    async def record(self, delivery: Delivery) -> bool:
        values = {
            "source": delivery.source.value,
            "key": delivery.key,
            "event_type": delivery.event_type,
            "received_at": delivery.received_at,
            "body": delivery.body,
            "detail": "",
        }
        return (await self._execute(_record(self._dialect), values)).first() is not None

    async def set_outcome(
        self, source: Source, key: str, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        """Record what became of a delivery; a delivery never recorded is left alone."""
        params = {
            "delivery_source": source.value,
            "delivery_key": key,
            "outcome": outcome.value,
            "detail": detail,
        }
        await self._execute(_SET_OUTCOME, params)

    async def enqueue(self, batch: Sequence[Delivery]) -> None:
        if not batch:
            return
        rows = [dict(zip(INBOX_COLUMNS, inbox_row(d, d.received_at), strict=True)) for d in batch]
        # One executemany: the whole intake batch costs one round trip and one commit.
        await self._execute_many(_ENQUEUE, rows)

    async def enqueue_once(self, delivery: Delivery) -> bool:
        row = dict(zip(INBOX_COLUMNS, inbox_row(delivery, delivery.received_at), strict=True))
        # The same INSERT ... ON CONFLICT DO NOTHING as ``record``, with the row pending.
        return (await self._execute(_record(self._dialect), row)).first() is not None

    async def take_pending(
        self, *, source: Source | None = None, now: datetime, limit: int, wait: bool = False
    ) -> Sequence[PendingDelivery]:
        if self._postgres and wait:
            await self._execute(_INBOX_LOCK_WAIT)
        elif self._postgres:
            got = await self._execute(_INBOX_LOCK)
            if not got.scalar_one():
                return []
        params: dict[str, object] = {"now": now, "limit": limit}
        query = _TAKE_ANY_PENDING
        if source is not None:
            params["source"] = source.value
            query = _TAKE_PENDING
        return [
            PendingDelivery(
                id=row.id,
                delivery=Delivery(
                    source=Source(row.source),
                    key=row.key,
                    received_at=row.received_at,
                    body=bytes(row.body),
                    event_type=row.event_type,
                ),
                attempts=row.attempts,
            )
            for row in await self._execute(query, params)
        ]

    async def finish(self, delivery_id: int, outcome: DeliveryOutcome, detail: str = "") -> bool:
        params = {"delivery_id": delivery_id, "outcome": outcome.value, "detail": detail}
        result = await self._execute(_FINISH, params)
        return result.rowcount == 1

    async def finish_later(
        self, delivery_id: int, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        params = {"delivery_id": delivery_id, "outcome": outcome.value, "detail": detail}
        self._hold(deliveries.name, _FINISH, params)

    async def defer(self, delivery_id: int, *, not_before: datetime, error: str) -> int:
        params = {"delivery_id": delivery_id, "not_before": not_before, "detail": error}
        row = (await self._execute(_DEFER, params)).first()
        return int(row.attempts) if row is not None else 0

    async def count_pending(self) -> int:
        return int((await self._execute(_COUNT_PENDING)).scalar_one())

    async def backlog(self) -> InboxBacklog:
        pending = await self.count_pending()
        if pending == 0:
            return InboxBacklog(0, None)
        firsts = [
            (await self._execute(_FIRST_PENDING, {"source": source.value})).scalar_one_or_none()
            for source in Source
        ]
        return InboxBacklog(pending, min((at for at in firsts if at is not None), default=None))
