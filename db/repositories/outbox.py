"""The Slack outbox and the chat refs of incidents."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, insert, or_, select, update

from bot.domain import JSON
from bot.outbox import CHANNEL, OutboundCall, OutboxMessage, OutboxStatus
from db.repositories.base import Repository
from db.tables import chat_refs, outbox

PENDING = OutboxStatus.PENDING.value


def _to_message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        call=OutboundCall(
            ordering_key=row.ordering_key,
            method=row.method,
            args=dict(row.args),
            incident_id=row.incident_id,
            binds=dict(row.binds),
            saves=dict(row.saves),
        ),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        not_before=row.not_before,
        created_at=row.created_at,
        sent_at=row.sent_at,
        finished_at=row.finished_at,
        last_error=row.last_error,
        result=None if row.result is None else dict(row.result),
    )


class SqlOutboxRepository(Repository):
    async def add(self, call: OutboundCall, *, at: datetime) -> OutboxMessage:
        statement = (
            insert(outbox)
            .values(
                ordering_key=call.ordering_key,
                method=call.method,
                args=dict(call.args),
                incident_id=call.incident_id,
                binds=dict(call.binds),
                saves=dict(call.saves),
                status=PENDING,
                attempts=0,
                not_before=at,
                created_at=at,
                last_error="",
            )
            .returning(*outbox.c)
        )
        return _to_message((await self._execute(statement)).one())

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        paused_methods: Collection[str] = (),
    ) -> Sequence[OutboxMessage]:
        older = outbox.alias("older")
        conditions: list[ColumnElement[bool]] = [
            outbox.c.status == PENDING,
            outbox.c.not_before <= now,
            or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
            ~exists().where(
                older.c.ordering_key == outbox.c.ordering_key,
                older.c.status == PENDING,
                older.c.id < outbox.c.id,
            ),
        ]
        if paused_methods:
            conditions.append(outbox.c.method.not_in(list(paused_methods)))
        query = select(outbox.c.id).where(and_(*conditions)).order_by(outbox.c.id).limit(limit)
        if self._postgres:
            # A row another replica is claiming right now is skipped, not waited for; once
            # that claim commits its lease keeps the row (and its key) out of this query.
            query = query.with_for_update(of=outbox, skip_locked=True)
        ids = [row.id for row in await self._execute(query)]
        if not ids:
            return []
        claimed = await self._execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(
                lease_owner=worker,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=outbox.c.attempts + 1,
            )
            .returning(*outbox.c)
        )
        return sorted((_to_message(row) for row in claimed), key=lambda m: m.id)

    async def mark_sent(self, message_id: int, *, at: datetime, result: JSON) -> bool:
        # Whoever holds the lease: Slack confirmed it, so it must never go out again.
        return await self._finish(
            outbox.c.id == message_id,
            status=OutboxStatus.SENT.value,
            sent_at=at,
            finished_at=at,
            result=dict(result),
            last_error="",
        )

    async def reschedule(
        self, message_id: int, *, worker: str, not_before: datetime, error: str
    ) -> bool:
        return await self._finish(
            and_(outbox.c.id == message_id, outbox.c.lease_owner == worker),
            not_before=not_before,
            last_error=error,
        )

    async def mark_failed(self, message_id: int, *, worker: str, at: datetime, error: str) -> bool:
        return await self._finish(
            and_(outbox.c.id == message_id, outbox.c.lease_owner == worker),
            status=OutboxStatus.FAILED.value,
            finished_at=at,
            last_error=error,
        )

    async def mark_unconfigured(self, message_id: int, *, worker: str, at: datetime) -> bool:
        return await self._finish(
            and_(outbox.c.id == message_id, outbox.c.lease_owner == worker),
            status=OutboxStatus.UNCONFIGURED.value,
            finished_at=at,
            last_error="SLACK_BOT_TOKEN is not set",
        )

    async def _finish(self, where: ColumnElement[bool], **values: Any) -> bool:
        """Update a pending row and drop its lease; ``True`` if the row was still pending."""
        result = await self._execute(
            update(outbox)
            .where(where, outbox.c.status == PENDING)
            .values(lease_owner=None, lease_until=None, **values)
        )
        return bool(result.rowcount == 1)

    async def get(self, message_id: int) -> OutboxMessage | None:
        row = (await self._execute(select(outbox).where(outbox.c.id == message_id))).first()
        return None if row is None else _to_message(row)

    async def list(
        self,
        *,
        status: OutboxStatus | None = None,
        ordering_key: str | None = None,
        limit: int = 1000,
    ) -> Sequence[OutboxMessage]:
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(outbox.c.status == status.value)
        if ordering_key is not None:
            conditions.append(outbox.c.ordering_key == ordering_key)
        query = select(outbox).where(*conditions).order_by(outbox.c.id).limit(limit)
        return [_to_message(row) for row in await self._execute(query)]

    async def refs(self, incident_id: int) -> dict[str, str]:
        query = select(chat_refs.c.name, chat_refs.c.value).where(
            chat_refs.c.incident_id == incident_id
        )
        return {row.name: row.value for row in await self._execute(query)}

    async def save_refs(self, incident_id: int, refs: Mapping[str, str]) -> None:
        for name, value in refs.items():
            upsert = self._upsert(chat_refs).values(incident_id=incident_id, name=name, value=value)
            await self._execute(
                upsert.on_conflict_do_update(
                    index_elements=[chat_refs.c.incident_id, chat_refs.c.name],
                    set_={"value": upsert.excluded.value},
                )
            )

    async def incident_for_channel(self, channel_id: str) -> int | None:
        query = (
            select(chat_refs.c.incident_id)
            .where(chat_refs.c.name == CHANNEL, chat_refs.c.value == channel_id)
            .order_by(chat_refs.c.incident_id.desc())
            .limit(1)
        )
        row = (await self._execute(query)).first()
        return None if row is None else int(row.incident_id)
