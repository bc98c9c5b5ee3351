"""Storage of escalation timers (``bot.domain.escalation``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.escalation import NewTimer, OnCall, Timer


class EscalationRepository(Protocol):
    """One row per incident, path run and level. Everything happens inside the caller's
    transaction: a level is fired (its timeline entry, its outbox rows) and marked fired in
    one commit, or not at all."""

    async def schedule(self, timers: Sequence[NewTimer], *, at: datetime) -> Sequence[Timer]:
        """Store pending timers (created ``at``)."""
        ...

    async def schedule_later(self, timers: Sequence[NewTimer], *, at: datetime) -> None:
        """``schedule``, written with the transaction's other held-back writes."""
        ...

    async def latest_run(self, incident_id: int) -> int:
        """The highest ``run`` stored for the incident, 0 if none."""
        ...

    async def cancel_pending(self, incident_id: int, *, reason: str) -> int:
        """Cancel the incident's pending timers; how many were pending."""
        ...

    async def claim_due(self, *, now: datetime, limit: int) -> Sequence[Timer]:
        """Pending timers with ``due_at <= now``, oldest due first, read without locking
        them. Every writer of timers (acknowledge, resolve, PagerDuty's events, the
        escalation worker) locks the incident first and its timers second; so the worker
        locks each claimed timer's incident, then ``mark_fired``, and replicas that read the
        same due timers fire each once (the later one's ``mark_fired`` says ``False``)."""
        ...

    async def mark_fired(self, timer_id: int, *, at: datetime) -> bool:
        """Pending → fired, conditionally: ``False`` when it was no longer pending (another
        replica fired it, or it was cancelled), and the caller must then do nothing."""
        ...

    async def for_incident(self, incident_id: int) -> Sequence[Timer]:
        """Every timer of the incident, by run, then level (the target last)."""
        ...

    async def for_incidents(self, incident_ids: Collection[int]) -> Mapping[int, Sequence[Timer]]:
        """``for_incident`` of each incident at once (the web page's list): an incident
        without timers is absent from the mapping."""
        ...


class OnCallDirectory(Protocol):
    """Who is on call now (PagerDuty's REST API ``GET /oncalls``)."""

    @property
    def configured(self) -> bool:
        """``False`` without an API token: callers fall back to the policy's rotation."""
        ...

    async def on_call(self, service: str | None) -> Sequence[OnCall]:
        """Who is on call for ``service`` (a PagerDuty service or escalation policy name;
        ``None``: everyone), by escalation level. Raises ``UpstreamError`` when PagerDuty
        cannot be asked."""
        ...
