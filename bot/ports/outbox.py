"""Outbound effects: the outbox rows, the chat references earlier calls returned, and the sender of each row's target."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from bot.domain.incident import (
    JSON,
)
from bot.domain.outbox import OutboundCall, OutboxMessage, OutboxStatus, Pace, SendResult


class Lease(Protocol):
    """The outbox worker's hold on the row it is sending (``OutboxRepository.renew``). A
    lease outlasts one call to the target, not necessarily several: a send made of several
    calls renews it before the call that takes effect, and stops if it was lost."""

    async def renew(self) -> bool:
        """Hold the row for another full lease from now, if this worker still holds it.
        ``False`` when another worker took it over after the lease ran out (or it was
        finished or cancelled meanwhile): the send must stop before anything takes effect,
        and answer ``Outcome.RETRY``."""
        ...


class Sender(Protocol):
    """Performs the outbox calls of one target (Slack, a pager, mail) and says what each
    answer means for its row; retrying, pacing and ordering are the outbox worker's."""

    @property
    def configured(self) -> bool:
        """``False`` when the target's settings are missing: nothing is sent."""
        ...

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        """Make one call; connection errors and refusals come back as outcomes, not raised.
        The worker passes the row's ``lease``: a sender whose row is several calls (Slack's
        file upload) renews it before the one that takes effect; ``None`` outside the
        outbox (nothing to renew)."""
        ...

    def skip(self, call: OutboundCall) -> str:
        """Unconfigured only: log what would have been sent; the reason kept on its row."""
        ...


@runtime_checkable
class PacedSender(Sender, Protocol):
    """A sender whose target limits how fast calls may come (Slack's rate tiers): it says
    which shared slot each call must take before it leaves. The worker takes the slot in
    the database, so every replica keeps the same pace; a sender without ``pace`` is not
    paced."""

    def pace(self, method: str, args: JSON) -> Pace | None:
        """The slot ``method`` with these (bound) ``args`` takes, or ``None`` if unpaced."""
        ...


# What became of one send, as the worker recorded it on the row: confirmed, rescheduled after
# a backoff or a 429, refused for good (or given up on), or only logged (no settings).
Settled = Literal["sent", "retry", "rate_limited", "failed", "unconfigured"]


class OutboxObserver(Protocol):
    """Told by the outbox worker about each row's outcome once it is recorded (the worker
    knows no target; the observer picks the rows it cares about). It runs after the row's
    transaction and must not raise: the worker logs and goes on if it does."""

    async def settled(self, message: OutboxMessage, outcome: Settled, error: str) -> None:
        """``message`` as claimed; ``error`` is what was recorded on the row ("" if sent)."""
        ...


class OutboxRepository(Protocol):
    """Calls waiting to be sent (``bot.domain.outbox``); the chat refs they produce are kept by
    ``ChatRefRepository``.

    Services only ``add``, inside the transaction of the change that caused the call. The
    worker claims rows with a lease: only the oldest unsent row of an ordering key is ever
    eligible, so a key's rows go out one after the other, and two replicas never hold the
    same row at once. The ``worker`` argument of the later operations is the lease holder.
    """

    async def add(self, call: OutboundCall, *, at: datetime) -> OutboxMessage:
        """Store a pending call, eligible from ``at``."""
        ...

    async def add_later(self, call: OutboundCall, *, at: datetime) -> None:
        """``add``, without waiting for the row: it is written with the transaction's other
        held-back writes (before the outbox is next read, or at commit), and in order."""
        ...

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        paused_methods: Collection[str] = (),
    ) -> Sequence[OutboxMessage]:
        """Lease up to ``limit`` ready rows, oldest first, at most one per ordering key.

        Ready: pending, ``not_before <= now``, no live lease, no older pending row of its key,
        and a method not in ``paused_methods`` (such a row holds back its key). Each claim
        counts one attempt.
        """
        ...

    async def release(self, message_id: int, *, worker: str, not_before: datetime) -> bool:
        """Give a claim back untried (its pace slot was taken): the lease is dropped, the
        claim's attempt is not counted, and the row is ready again from ``not_before``.
        ``False`` if ``worker`` lost the lease."""
        ...

    async def mark_sent(self, message_id: int, *, at: datetime, result: JSON) -> bool:
        """Record the target's confirmation; ``False`` if the row was no longer pending."""
        ...

    async def renew(self, message_id: int, *, worker: str, until: datetime) -> bool:
        """Extend ``worker``'s lease on a pending row to ``until``; ``False`` if another
        worker holds it now or it is no longer pending. A lease that ran out but that nobody
        took over is still ``worker``'s: nobody else can have sent the row."""
        ...

    async def reschedule(
        self, message_id: int, *, worker: str, not_before: datetime, error: str
    ) -> bool:
        """Release the lease for a later try; ``False`` if ``worker`` lost the lease."""
        ...

    async def mark_failed(self, message_id: int, *, worker: str, at: datetime, error: str) -> bool:
        """Give up on the row for good; ``False`` if ``worker`` lost the lease."""
        ...

    async def mark_unconfigured(
        self, message_id: int, *, worker: str, at: datetime, reason: str = "not configured"
    ) -> bool:
        """The call was only logged (its target is not configured: ``reason``); ``False``
        if ``worker`` lost the lease."""
        ...

    async def cancel_for_incident(self, incident_id: int, *, at: datetime, reason: str) -> int:
        """Mark the incident's pending, unleased calls ``cancelled`` (never sent); how many.
        A call a worker holds is in flight and left alone."""
        ...

    async def get(self, message_id: int) -> OutboxMessage | None: ...

    async def calls_of(
        self, ordering_key: str, *, status: OutboxStatus | None = None
    ) -> Sequence[tuple[str, Mapping[str, str]]]:
        """The method and ``saves`` of each row of ``ordering_key`` (of ``status``, if
        given), oldest first: what is queued for an incident, without reading the calls'
        arguments (a card's blocks are the bulk of a row)."""
        ...

    async def list(
        self,
        *,
        status: OutboxStatus | None = None,
        ordering_key: str | None = None,
        limit: int = 1000,
    ) -> Sequence[OutboxMessage]:
        """Oldest first."""
        ...


class PaceRepository(Protocol):
    """The outbox's pace slots (``bot.domain.outbox.Pace``): per key, the instant its next
    call is due. Shared by every replica: a slot is read locked and written in the caller's
    transaction, so two transactions never both take it (on PostgreSQL the second waits for
    the first's commit and then finds it taken). Callers taking several keys in one
    transaction take them in key order (no deadlock)."""

    async def take(self, pace: Pace, *, now: datetime) -> datetime | None:
        """Take a slot of ``pace`` at ``now`` and answer ``None``; if none is free, change
        nothing and answer when one frees."""
        ...

    async def hold(self, pace: Pace, *, until: datetime) -> None:
        """Let no call of ``pace`` leave before ``until`` (the target answered 429)."""
        ...


class ChatRefRepository(Protocol):
    """What the chat calls of an incident returned and later calls refer to (its channel id,
    its card's channel and ``ts``: the names in ``bot.domain.outbox``), and the reverse
    lookup of an incident by its channel."""

    async def refs(self, incident_id: int) -> dict[str, str]:
        """The incident's chat refs (channel id, card channel and ts), empty if none yet."""
        ...

    async def save_refs(self, incident_id: int, refs: Mapping[str, str]) -> None:
        """Set (or overwrite) the named refs of an incident; other refs stay."""
        ...

    async def incident_for_channel(self, channel_id: str) -> int | None:
        """The incident whose own channel this is (its ``channel`` ref), newest if several."""
        ...
