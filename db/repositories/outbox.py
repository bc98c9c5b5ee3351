"""The outbox: calls waiting for the sender of their target (the chat refs they produce are in
``db.repositories.chat_refs``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)

from bot.domain.incident import JSON
from bot.domain.outbox import OutboundCall, OutboxMessage, OutboxStatus
from db.repositories.base import POSTGRESQL, Repository
from db.tables import outbox

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
            target=row.target,
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


@cache
def _claim_query(dialect: str, *, paused: bool) -> Select[Any]:
    older = outbox.alias("older")
    conditions: list[ColumnElement[bool]] = [
        outbox.c.status == PENDING,
        # Two parameters, both given ``now``: the statement's text stays what it always was.
        outbox.c.not_before <= bindparam("due_by"),
        or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= bindparam("lease_ended_by")),
        ~exists().where(
            older.c.ordering_key == outbox.c.ordering_key,
            older.c.status == PENDING,
            older.c.id < outbox.c.id,
        ),
    ]
    if paused:
        conditions.append(outbox.c.method.not_in(bindparam("paused", expanding=True)))
    query = (
        select(outbox.c.id)
        .where(and_(*conditions))
        .order_by(outbox.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == POSTGRESQL:
        # A row another replica is claiming right now is skipped, not waited for; once
        # that claim commits its lease keeps the row (and its key) out of this query.
        query = query.with_for_update(of=outbox, skip_locked=True)
    return query


def _finish(*, leased: bool, **values: Any) -> Update:
    """Update a pending row and drop its lease; with ``leased``, only the lease holder's."""
    where = outbox.c.id == bindparam("message_id")
    if leased:
        where = and_(where, outbox.c.lease_owner == bindparam("worker"))
    return (
        update(outbox)
        .where(where, outbox.c.status == PENDING)
        .values(lease_owner=None, lease_until=None, **values)
    )


_ADD = insert(outbox).returning(*outbox.c)
_ADD_LATER = insert(outbox)
_CLAIM = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        lease_owner=bindparam("worker"),
        lease_until=bindparam("lease_until"),
        attempts=outbox.c.attempts + 1,
    )
    .returning(*outbox.c)
)
# Whoever holds the lease: the target confirmed it, so it must never go out again.
_MARK_SENT = _finish(
    leased=False,
    status=OutboxStatus.SENT.value,
    sent_at=bindparam("sent_at"),
    finished_at=bindparam("finished_at"),
    result=bindparam("result"),
    last_error="",
)
# The lease holder's, still pending: a sender about to take effect keeps the row a while
# longer, or learns that another worker took it over (then this matches nothing).
_RENEW = (
    update(outbox)
    .where(
        outbox.c.id == bindparam("message_id"),
        outbox.c.lease_owner == bindparam("worker"),
        outbox.c.status == PENDING,
    )
    .values(lease_until=bindparam("until"))
)
_RESCHEDULE = _finish(
    leased=True, not_before=bindparam("not_before"), last_error=bindparam("error")
)
# A claim given back untried: the attempt it counted is taken back.
_RELEASE = _finish(leased=True, not_before=bindparam("not_before"), attempts=outbox.c.attempts - 1)
_MARK_FAILED = _finish(
    leased=True,
    status=OutboxStatus.FAILED.value,
    finished_at=bindparam("at"),
    last_error=bindparam("error"),
)
_MARK_UNCONFIGURED = _finish(
    leased=True,
    status=OutboxStatus.UNCONFIGURED.value,
    finished_at=bindparam("at"),
    last_error=bindparam("reason"),
)
_GET = select(outbox).where(outbox.c.id == bindparam("message_id"))
_CALLS_OF = (
    select(outbox.c.method, outbox.c.saves, outbox.c.status)
    .where(outbox.c.ordering_key == bindparam("key"))
    .order_by(outbox.c.id)
)
# Only what no worker holds: a leased call may be in flight and must settle as it goes.
_CANCEL_FOR_INCIDENT = (
    update(outbox)
    .where(
        outbox.c.incident_id == bindparam("of_incident"),
        outbox.c.status == PENDING,
        or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= bindparam("at")),
    )
    .values(
        status=OutboxStatus.CANCELLED.value,
        finished_at=bindparam("at"),
        last_error=bindparam("reason"),
        lease_owner=None,
        lease_until=None,
    )
)


class SqlOutboxRepository(Repository):
    async def add(self, call: OutboundCall, *, at: datetime) -> OutboxMessage:
        return _to_message((await self._execute(_ADD, _values(call, at))).one())

    async def add_later(self, call: OutboundCall, *, at: datetime) -> None:
        self._hold(outbox.name, _ADD_LATER, _values(call, at))

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        paused_methods: Collection[str] = (),
    ) -> Sequence[OutboxMessage]:
        params: dict[str, Any] = {"due_by": now, "lease_ended_by": now, "limit": limit}
        if paused_methods:
            params["paused"] = list(paused_methods)
        query = _claim_query(self._dialect, paused=bool(paused_methods))
        ids = [row.id for row in await self._execute(query, params)]
        if not ids:
            return []
        claimed = await self._execute(
            _CLAIM,
            {"ids": ids, "worker": worker, "lease_until": now + timedelta(seconds=lease_seconds)},
        )
        return sorted((_to_message(row) for row in claimed), key=lambda m: m.id)

    async def mark_sent(self, message_id: int, *, at: datetime, result: JSON) -> bool:
        params = {
            "message_id": message_id,
            "sent_at": at,
            "finished_at": at,
            "result": dict(result),
        }
        return await self._finish(_MARK_SENT, params)

    async def renew(self, message_id: int, *, worker: str, until: datetime) -> bool:
        params = {"message_id": message_id, "worker": worker, "until": until}
        return await self._finish(_RENEW, params)

    async def reschedule(
        self, message_id: int, *, worker: str, not_before: datetime, error: str
    ) -> bool:
        params = {"message_id": message_id, "worker": worker, "not_before": not_before}
        return await self._finish(_RESCHEDULE, {**params, "error": error})

    async def release(self, message_id: int, *, worker: str, not_before: datetime) -> bool:
        params = {"message_id": message_id, "worker": worker, "not_before": not_before}
        return await self._finish(_RELEASE, params)

    async def mark_failed(self, message_id: int, *, worker: str, at: datetime, error: str) -> bool:
        params = {"message_id": message_id, "worker": worker, "at": at, "error": error}
        return await self._finish(_MARK_FAILED, params)

    async def mark_unconfigured(
        self, message_id: int, *, worker: str, at: datetime, reason: str = "not configured"
    ) -> bool:
        params = {"message_id": message_id, "worker": worker, "at": at, "reason": reason}
        return await self._finish(_MARK_UNCONFIGURED, params)

    async def _finish(self, statement: Update, params: Mapping[str, Any]) -> bool:
        """``True`` if the row was still pending (and, where asked, leased by the worker)."""
        result = await self._execute(statement, params)
        return bool(result.rowcount == 1)

    async def cancel_for_incident(self, incident_id: int, *, at: datetime, reason: str) -> int:
        params = {"of_incident": incident_id, "at": at, "reason": reason}
        return int((await self._execute(_CANCEL_FOR_INCIDENT, params)).rowcount)

    async def get(self, message_id: int) -> OutboxMessage | None:
        row = (await self._execute(_GET, {"message_id": message_id})).first()
        return None if row is None else _to_message(row)

    async def calls_of(
        self, ordering_key: str, *, status: OutboxStatus | None = None
    ) -> Sequence[tuple[str, Mapping[str, str]]]:
        # Stored rows, then the held ones (all pending, all inserts): what a flush would
        # give, without sending the transaction's held rows one small batch at a time. The
        # status is checked here: in SQL it let SQLite pick the status index and walk every
        # pending row of every incident (~1.6 ms a call in a storm's backlog).
        rows = await self._execute(_CALLS_OF, {"key": ordering_key}, reads=())
        found = [
            (row.method, dict(row.saves))
            for row in rows
            if status is None or row.status == status.value
        ]
        if status in (None, OutboxStatus.PENDING):
            found += [
                (row["method"], dict(row["saves"]))
                for row in self._state.held.rows(outbox.name)
                if row["ordering_key"] == ordering_key
            ]
        return found

    async def list(
        self,
        *,
        status: OutboxStatus | None = None,
        ordering_key: str | None = None,
        limit: int = 1000,
    ) -> Sequence[OutboxMessage]:
        # Built per call: which conditions apply depends on the arguments.
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(outbox.c.status == status.value)
        if ordering_key is not None:
            conditions.append(outbox.c.ordering_key == ordering_key)
        query = select(outbox).where(*conditions).order_by(outbox.c.id).limit(limit)
        return [_to_message(row) for row in await self._execute(query)]


def _values(call: OutboundCall, at: datetime) -> dict[str, Any]:
    return {
        "ordering_key": call.ordering_key,
        "method": call.method,
        "args": dict(call.args),
        "incident_id": call.incident_id,
        "binds": dict(call.binds),
        "saves": dict(call.saves),
        "target": call.target,
        "status": PENDING,
        "attempts": 0,
        "not_before": at,
        "created_at": at,
        "last_error": "",
    }
