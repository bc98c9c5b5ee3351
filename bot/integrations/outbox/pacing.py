"""Pacing in the claim's transaction: a claimed row leaves only once it holds its slot.

The sender of a row's target names the slot (``PacedSender.pace``: Slack's rate tier of
the method, or the channel a message is posted to), from the call's arguments with the chat
refs bound, so the refs are read here, once per incident, and the bound arguments go on to
the send. The slot is taken in the database (``PaceRepository.take``) in the same
transaction as the claim: two replicas on PostgreSQL cannot both take it, and a slot is
never taken for a claim that rolled back.

A row whose slot is taken is given back untried (``OutboxRepository.release``: no attempt
counted), ready again when the slot frees. It stays the oldest pending row of its ordering
key, so that key's later rows wait behind it; among the rows of one slot the oldest claimed
goes first, so a backlog leaves in the order it was written.

Slots are taken in key order, so two transactions never wait on each other's slot rows in
opposite orders (PostgreSQL would call that a deadlock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.incident import JSON
from bot.domain.outbox import MissingRef, OutboxMessage, Outcome, Pace, SendResult, bind_args
from bot.integrations.outbox.rows import RowWriter
from bot.ports import PacedSender, Sender, UnitOfWork


@dataclass(frozen=True, slots=True)
class Ready:
    """A claimed row and its arguments with the chat refs bound (or the ref that was missing:
    the row fails when its send comes)."""

    message: OutboxMessage
    args: JSON | MissingRef


async def bind(uow: UnitOfWork, messages: Sequence[OutboxMessage]) -> list[Ready]:
    """Each row with its bound arguments, the refs read once per incident."""
    refs: dict[int, dict[str, str]] = {}
    ready: list[Ready] = []
    for message in messages:
        incident_id = message.call.incident_id
        if message.call.binds and incident_id is not None and incident_id not in refs:
            refs[incident_id] = await uow.chat_refs.refs(incident_id)
        try:
            known = refs.get(incident_id, {}) if incident_id is not None else {}
            args = bind_args(message.call, known)
        except MissingRef as missing:
            ready.append(Ready(message, missing))
        else:
            ready.append(Ready(message, args))
    return ready


def pace_of(pacers: Mapping[str, PacedSender], ready: Ready) -> Pace | None:
    """The slot a row takes, if its target paces it (a row missing a ref takes none)."""
    sender = pacers.get(ready.message.call.target)
    if sender is None or isinstance(ready.args, MissingRef):
        return None
    return sender.pace(ready.message.call.method, ready.args)


async def take_slots(
    uow: UnitOfWork,
    ready: Sequence[Ready],
    pacers: Mapping[str, PacedSender],
    *,
    worker: str,
    now: datetime,
) -> tuple[list[Ready], datetime | None]:
    """The rows free to leave now, and when the soonest of the others may (they are
    released until their slot frees)."""
    soonest: datetime | None = None
    waiting: defaultdict[Pace, list[Ready]] = defaultdict(list)
    free: list[Ready] = []
    for row in ready:
        pace = pace_of(pacers, row)
        if pace is None:
            free.append(row)
        else:
            waiting[pace].append(row)
    for pace in sorted(waiting, key=lambda p: (p.key, p.interval, p.burst)):
        rows = sorted(waiting[pace], key=lambda r: r.message.id)
        busy_until: datetime | None = None
        while rows and busy_until is None:
            busy_until = await uow.pace.take(pace, now=now)
            if busy_until is None:
                free.append(rows.pop(0))
        if not rows or busy_until is None:
            continue
        soonest = busy_until if soonest is None else min(soonest, busy_until)
        for row in rows:
            # Ready again when the slot frees, all at the same instant, so they are
            # claimed again oldest first.
            await uow.outbox.release(row.message.id, worker=worker, not_before=busy_until)
    return sorted(free, key=lambda r: r.message.id), soonest


class Pacer:
    """The worker's side of pacing: which targets pace their calls, the claimed rows let
    go, and when the soonest slot a row was given back for frees (the worker looks again
    then rather than at its next poll)."""

    def __init__(self, senders: Mapping[str, Sender], clock: Clock, rows: RowWriter) -> None:
        self._pacers = {t: s for t, s in senders.items() if isinstance(s, PacedSender)}
        self._clock = clock
        self._rows = rows
        self._slot: datetime | None = None

    async def admit(
        self, uow: UnitOfWork, messages: Sequence[OutboxMessage], *, worker: str, now: datetime
    ) -> list[Ready]:
        """The claimed rows (in the claim's transaction) that may leave now, bound."""
        leaving, slot = await take_slots(
            uow, await bind(uow, messages), self._pacers, worker=worker, now=now
        )
        if slot is not None and (self._slot is None or slot < self._slot):
            self._slot = slot
        return leaving

    def until_slot(self) -> float | None:
        """Seconds until the soonest slot a row was given back for frees (0: freed while
        the round ran, look again at once); ``None`` when no row waits for one."""
        if self._slot is None:
            return None
        left = (self._slot - self._clock.now()).total_seconds()
        if left <= 0:
            self._slot = None
            return 0.0
        return left

    async def after(self, row: Ready, result: SendResult) -> None:
        """A 429 for a paced call holds its slot for every replica, not only this worker."""
        if result.outcome is not Outcome.RATE_LIMITED or result.method != row.message.call.method:
            return  # not a 429, or one of a helper call the sender made on the way
        pace = pace_of(self._pacers, row)
        if pace is not None:
            until = self._clock.now() + timedelta(seconds=result.retry_after)
            await self._rows.hold(pace, until)
