"""The outbox and chat refs of ``MemoryStore``, with the SQL repository's semantics."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.domain.incident import JSON
from bot.domain.outbox import CHANNEL, OutboundCall, OutboxMessage, OutboxStatus, Pace
from bot.errors import IntegrityViolation


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware one")
    return at.astimezone(UTC)


def _copy(value: JSON) -> JSON:
    """A deep copy through JSON, as a round trip through the database would give."""
    copied: JSON = json.loads(json.dumps(value))
    return copied


@dataclasses.dataclass(frozen=True, slots=True)
class _Row:
    message: OutboxMessage
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclasses.dataclass(slots=True)
class OutboxState:
    rows: dict[int, _Row] = dataclasses.field(default_factory=dict)
    refs: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)
    next_id: int = 1
    pace: dict[str, datetime] = dataclasses.field(default_factory=dict)

    def copy(self) -> OutboxState:
        return OutboxState(
            rows=dict(self.rows),
            refs={key: dict(refs) for key, refs in self.refs.items()},
            next_id=self.next_id,
            pace=dict(self.pace),
        )


class MemoryOutbox:
    """``incident_exists`` stands in for the foreign key to incidents."""

    def __init__(self, state: OutboxState, incident_exists: Callable[[int], bool]) -> None:
        self._state = state
        self._incident_exists = incident_exists

    def _check_incident(self, incident_id: int | None) -> None:
        if incident_id is not None and not self._incident_exists(incident_id):
            raise IntegrityViolation(f"incident {incident_id} does not exist")

    async def calls_of(
        self, ordering_key: str, *, status: OutboxStatus | None = None
    ) -> Sequence[tuple[str, Mapping[str, str]]]:
        rows = await self.list(status=status, ordering_key=ordering_key)
        return [(row.call.method, dict(row.call.saves)) for row in rows]

    async def add_later(self, call: OutboundCall, *, at: datetime) -> None:
        await self.add(call, at=at)

    async def add(self, call: OutboundCall, *, at: datetime) -> OutboxMessage:
        self._check_incident(call.incident_id)
        at = _aware(at)
        stored = dataclasses.replace(
            call, args=_copy(call.args), binds=dict(call.binds), saves=dict(call.saves)
        )
        message = OutboxMessage(
            id=self._state.next_id,
            call=stored,
            status=OutboxStatus.PENDING,
            attempts=0,
            not_before=at,
            created_at=at,
        )
        self._state.next_id += 1
        self._state.rows[message.id] = _Row(message)
        return message

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        paused_methods: Collection[str] = (),
    ) -> Sequence[OutboxMessage]:
        now = _aware(now)
        heads: dict[str, _Row] = {}
        for row_id in sorted(self._state.rows):
            row = self._state.rows[row_id]
            if row.message.status is OutboxStatus.PENDING:
                heads.setdefault(row.message.call.ordering_key, row)
        claimed: list[OutboxMessage] = []
        for row in sorted(heads.values(), key=lambda r: r.message.id):
            message = row.message
            if len(claimed) >= limit:
                break
            if message.not_before > now or message.call.method in paused_methods:
                continue
            if row.lease_until is not None and row.lease_until > now:
                continue
            message = dataclasses.replace(message, attempts=message.attempts + 1)
            self._state.rows[message.id] = _Row(
                message, worker, now + timedelta(seconds=lease_seconds)
            )
            claimed.append(message)
        return claimed

    def _finish(self, message_id: int, worker: str | None, **changes: object) -> bool:
        row = self._state.rows.get(message_id)
        if row is None or row.message.status is not OutboxStatus.PENDING:
            return False
        if worker is not None and row.lease_owner != worker:
            return False
        message = dataclasses.replace(row.message, **changes)  # type: ignore[arg-type]
        self._state.rows[message_id] = _Row(message)
        return True

    async def mark_sent(self, message_id: int, *, at: datetime, result: JSON) -> bool:
        at = _aware(at)
        return self._finish(
            message_id,
            None,
            status=OutboxStatus.SENT,
            sent_at=at,
            finished_at=at,
            result=_copy(result),
            last_error="",
        )

    async def renew(self, message_id: int, *, worker: str, until: datetime) -> bool:
        row = self._state.rows.get(message_id)
        if row is None or row.message.status is not OutboxStatus.PENDING:
            return False
        if row.lease_owner != worker:
            return False
        self._state.rows[message_id] = _Row(row.message, worker, _aware(until))
        return True

    async def reschedule(
        self, message_id: int, *, worker: str, not_before: datetime, error: str
    ) -> bool:
        return self._finish(message_id, worker, not_before=_aware(not_before), last_error=error)

    async def release(self, message_id: int, *, worker: str, not_before: datetime) -> bool:
        row = self._state.rows.get(message_id)
        if row is None:
            return False
        return self._finish(
            message_id,
            worker,
            not_before=_aware(not_before),
            attempts=row.message.attempts - 1,
        )

    async def mark_failed(self, message_id: int, *, worker: str, at: datetime, error: str) -> bool:
        return self._finish(
            message_id, worker, status=OutboxStatus.FAILED, finished_at=_aware(at), last_error=error
        )

    async def mark_unconfigured(
        self, message_id: int, *, worker: str, at: datetime, reason: str = "not configured"
    ) -> bool:
        return self._finish(
            message_id,
            worker,
            status=OutboxStatus.UNCONFIGURED,
            finished_at=_aware(at),
            last_error=reason,
        )

    async def cancel_for_incident(self, incident_id: int, *, at: datetime, reason: str) -> int:
        at = _aware(at)
        cancelled = 0
        for row_id, row in list(self._state.rows.items()):
            message = row.message
            if message.call.incident_id != incident_id:
                continue
            if message.status is not OutboxStatus.PENDING:
                continue
            if row.lease_until is not None and row.lease_until > at:
                continue
            self._state.rows[row_id] = _Row(
                dataclasses.replace(
                    message, status=OutboxStatus.CANCELLED, finished_at=at, last_error=reason
                )
            )
            cancelled += 1
        return cancelled

    async def get(self, message_id: int) -> OutboxMessage | None:
        row = self._state.rows.get(message_id)
        return None if row is None else row.message

    async def list(
        self,
        *,
        status: OutboxStatus | None = None,
        ordering_key: str | None = None,
        limit: int = 1000,
    ) -> Sequence[OutboxMessage]:
        found = [
            self._state.rows[row_id].message
            for row_id in sorted(self._state.rows)
            if (status is None or self._state.rows[row_id].message.status is status)
            and (
                ordering_key is None
                or self._state.rows[row_id].message.call.ordering_key == ordering_key
            )
        ]
        return found[:limit]


class MemoryPace:
    """The ``outbox_pace`` table: per key, when its next call is due."""

    def __init__(self, state: OutboxState) -> None:
        self._state = state

    async def take(self, pace: Pace, *, now: datetime) -> datetime | None:
        busy_until, due = pace.take(self._state.pace.get(pace.key), _aware(now))
        self._state.pace[pace.key] = due
        return busy_until

    async def hold(self, pace: Pace, *, until: datetime) -> None:
        self._state.pace[pace.key] = pace.held(self._state.pace.get(pace.key), _aware(until))


class MemoryChatRefs:
    """The ``chat_refs`` table: refs by incident (which must exist), newest owner of a channel."""

    def __init__(self, state: OutboxState, incident_exists: Callable[[int], bool]) -> None:
        self._state = state
        self._incident_exists = incident_exists

    async def refs(self, incident_id: int) -> dict[str, str]:
        return dict(self._state.refs.get(incident_id, {}))

    async def save_refs(self, incident_id: int, refs: Mapping[str, str]) -> None:
        if refs:
            if not self._incident_exists(incident_id):
                raise IntegrityViolation(f"incident {incident_id} does not exist")
            self._state.refs.setdefault(incident_id, {}).update(refs)

    async def incident_for_channel(self, channel_id: str) -> int | None:
        owners = [i for i, refs in self._state.refs.items() if refs.get(CHANNEL) == channel_id]
        return max(owners, default=None)
