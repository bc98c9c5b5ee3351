"""Broad silence requests: someone who is not an approver asks for a silence that reaches
beyond the incident's alerts (``--broad``); an approver approves it (the silence is created
then, asked by the one and approved by the other) or denies it; its requester may withdraw
it. A request lapses ``approval_ttl`` seconds after it was made: approving it later records
the lapse instead.

A request lives on the incident's timeline (``bot.services.incidents.silence_entries``).
Approving first records ``silence.approved`` under the incident's row lock, so of two
approvers clicking at once one wins and the other is told it was decided; Alertmanager is
asked after that commit, and its refusal is recorded as ``silence.refused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.actor import BOT, Actor
from bot.domain.events import EventKind, SilenceDecision, SilenceRequested
from bot.domain.incident import Incident
from bot.domain.silence import Matcher, read_matcher
from bot.errors import Conflict, Forbidden, NotFound, UpstreamError
from bot.ports import Silences, Store, UnitOfWork
from bot.services.incidents.silence_entries import (
    Made,
    PendingRequest,
    create_and_record,
    record_refusal,
    requests_of,
    stamp,
)
from bot.services.transactions import in_transaction

_DECIDED = {
    EventKind.SILENCE_APPROVED: "approved",
    EventKind.SILENCE_DENIED: "denied",
    EventKind.SILENCE_REQUEST_EXPIRED: "lapsed",
}


@dataclass(frozen=True, slots=True)
class SilenceAsked:
    """A broad silence request waiting for an approver: its number (the entry's ``seq``)
    and until when it may be approved."""

    incident: Incident
    request: int
    matchers: tuple[Matcher, ...]
    duration: timedelta
    expires_at: datetime
    why: str


@dataclass(frozen=True, slots=True)
class Approved:
    """The approved request's silence, made and recorded."""

    incident: Incident
    request: PendingRequest
    matchers: tuple[Matcher, ...]
    made: Made


async def ask(
    store: Store,
    incident_id: int,
    *,
    matchers: tuple[Matcher, ...],
    duration: timedelta,
    actor: Actor,
    now: datetime,
    ttl: float,
    why: str,
) -> SilenceAsked:
    """Record ``silence.requested`` (the Slack publisher posts it with Approve and Deny)."""
    expires_at = now + timedelta(seconds=ttl)

    async def work(uow: UnitOfWork) -> SilenceAsked:
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"there is no incident #{incident_id}")
        entry = await uow.timeline.append(
            incident_id,
            at=now,
            actor=actor,
            event=SilenceRequested(
                matchers=tuple(str(m) for m in matchers),
                seconds=int(duration.total_seconds()),
                by=str(actor),
                why=why,
                expires_at=stamp(expires_at),
            ),
        )
        return SilenceAsked(incident, entry.seq, matchers, duration, expires_at, why)

    return await in_transaction(store, work)


async def _open_request(store: Store, incident_id: int, request: int) -> PendingRequest:
    async with store.transaction() as uow:
        if await uow.incidents.get(incident_id) is None:
            raise NotFound(f"there is no incident #{incident_id}")
        entries = await uow.timeline.for_incident(incident_id)
    pending = requests_of(entries).get(request)
    if pending is None:
        raise NotFound(f"incident #{incident_id} has no silence request {request}")
    if pending.decision is not None:
        raise Conflict(f"{_closed(pending)}")
    return pending


def _closed(pending: PendingRequest) -> str:
    decision = pending.decision
    assert decision is not None
    return f"silence request {pending.seq} was {_DECIDED[decision.kind]} already"


async def _decide(
    store: Store,
    incident_id: int,
    request: int,
    *,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    reason: str = "",
) -> tuple[Incident, str | None]:
    """Record the decision under the incident's lock, unless another came first (the
    conflict's text) or the request lapsed (recorded so, and its text)."""

    async def work(uow: UnitOfWork) -> tuple[Incident, str | None]:
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"there is no incident #{incident_id}")
        pending = requests_of(await uow.timeline.for_incident(incident_id)).get(request)
        if pending is None:
            raise NotFound(f"incident #{incident_id} has no silence request {request}")
        if pending.decision is not None:
            return incident, _closed(pending)
        lapsed = ""
        if kind is EventKind.SILENCE_APPROVED and now >= pending.expires_at:
            lapsed = f"nobody approved it by {stamp(pending.expires_at)}"
        elif kind is EventKind.SILENCE_APPROVED and not incident.status.is_open:
            lapsed = f"incident #{incident_id} resolved before it was approved"
        body = SilenceDecision(kind=kind, request=request, by=str(actor), reason=reason)
        if lapsed:
            body = SilenceDecision(
                kind=EventKind.SILENCE_REQUEST_EXPIRED, request=request, by=str(BOT), reason=lapsed
            )
        await uow.timeline.append(incident_id, at=now, actor=BOT if lapsed else actor, event=body)
        if lapsed:
            return incident, f"silence request {request} lapsed: {lapsed}; ask again"
        return incident, None

    return await in_transaction(store, work)


async def approve(
    store: Store,
    silences: Silences,
    incident_id: int,
    request: int,
    *,
    actor: Actor,
    approver: bool,
    now: datetime,
) -> Approved:
    """Approve request ``request`` of the incident and create its silence. ``Forbidden``
    (recorded) for its requester and for anyone who is not an ``approver``; ``Conflict``
    when it was decided already or lapsed (the lapse is recorded)."""
    pending = await _open_request(store, incident_id, request)
    matchers = tuple(read_matcher(m) for m in pending.matchers)
    why = ""
    if actor == pending.by:
        why = "you asked for this silence; another approver must approve it"
    elif not approver:
        why = "only an approver may approve a silence beyond the incident's alerts"
    if why:
        await record_refusal(
            store, incident_id, actor=actor, at=now, matchers=matchers, why=why, request=request
        )
        raise Forbidden(why)
    incident, problem = await _decide(
        store, incident_id, request, kind=EventKind.SILENCE_APPROVED, actor=actor, now=now
    )
    if problem is not None:
        raise Conflict(problem)
    try:
        made = await create_and_record(
            store,
            silences,
            incident,
            matchers,
            duration=timedelta(seconds=pending.asked.seconds),
            now=now,
            asked_by=pending.by,
            broad=True,
            approved_by=actor,
            request=request,
        )
    except UpstreamError as exc:
        await record_refusal(
            store,
            incident_id,
            actor=actor,
            at=now,
            matchers=matchers,
            why=f"approved, but Alertmanager did not make it: {exc}",
            request=request,
        )
        raise
    return Approved(incident, pending, matchers, made)


async def deny(
    store: Store,
    incident_id: int,
    request: int,
    *,
    actor: Actor,
    approver: bool,
    now: datetime,
) -> PendingRequest:
    """Deny request ``request`` (an approver), or withdraw it (its requester); anyone else
    gets ``Forbidden``, and a request decided already ``Conflict``."""
    pending = await _open_request(store, incident_id, request)
    withdrawn = actor == pending.by
    if not withdrawn and not approver:
        raise Forbidden("only an approver, or whoever asked, may deny a silence request")
    reason = "withdrawn by whoever asked" if withdrawn else ""
    _, problem = await _decide(
        store,
        incident_id,
        request,
        kind=EventKind.SILENCE_DENIED,
        actor=actor,
        now=now,
        reason=reason,
    )
    if problem is not None:
        raise Conflict(problem)
    return pending
