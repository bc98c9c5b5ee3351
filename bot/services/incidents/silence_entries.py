"""What the silence use cases share: reading an incident's silences and broad silence
requests off its timeline, creating a silence and recording it, and recording a refusal.

The timeline is where firebreak keeps its silences (``silence.created`` until a
``silence.expired``) and its broad silence requests (``silence.requested``, named by the
entry's ``seq``, open until a ``SilenceDecision``); no table holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.actor import Actor
from bot.domain.events import (
    SilenceCreated,
    SilenceDecision,
    SilenceExpired,
    SilenceRefused,
    SilenceRequested,
    decode,
)
from bot.domain.incident import Incident, TimelineEntry
from bot.domain.silence import Matcher, NewSilence, equality_matchers
from bot.errors import NotFound
from bot.ports import Silences, Store, UnitOfWork
from bot.services.transactions import in_transaction

# How much of a refusal's reason is kept on the timeline.
WHY_MAX = 600


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, as the silence entries store times."""
    return moment.isoformat().replace("+00:00", "Z")


def read_stamp(text: str) -> datetime | None:
    """A time ``stamp`` wrote, or ``None`` for an empty or unreadable one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def comment_for(incident: Incident) -> str:
    """The silence's comment: which incident it is for."""
    return f"firebreak incident #{incident.id}: {incident.title}"


def open_silences(entries: Sequence[TimelineEntry]) -> dict[str, SilenceCreated]:
    """The silences the timeline holds that no ``silence.expired`` closed, by id."""
    created: dict[str, SilenceCreated] = {}
    for entry in entries:
        event = decode(entry.kind, entry.body)
        if isinstance(event, SilenceCreated):
            created[event.silence_id] = event
        elif isinstance(event, SilenceExpired):
            created.pop(event.silence_id, None)
    return created


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A broad silence request as its entry holds it, and how it was decided (``None``:
    still open)."""

    seq: int
    asked: SilenceRequested
    by: Actor
    at: datetime
    decision: SilenceDecision | None

    @property
    def expires_at(self) -> datetime:
        return read_stamp(self.asked.expires_at) or self.at

    @property
    def matchers(self) -> tuple[str, ...]:
        return self.asked.matchers


def requests_of(entries: Sequence[TimelineEntry]) -> dict[int, PendingRequest]:
    """Every broad silence request on the timeline by its ``seq``, with its decision."""
    found: dict[int, PendingRequest] = {}
    for entry in entries:
        event = decode(entry.kind, entry.body)
        if isinstance(event, SilenceRequested):
            found[entry.seq] = PendingRequest(entry.seq, event, entry.actor, entry.at, None)
        elif isinstance(event, SilenceDecision):
            asked = found.get(event.request)
            if asked is not None and asked.decision is None:
                found[event.request] = replace(asked, decision=event)
    return found


async def record_refusal(
    store: Store,
    incident_id: int,
    *,
    actor: Actor,
    at: datetime,
    matchers: Sequence[Matcher],
    why: str,
    request: int | None = None,
) -> None:
    """Record ``silence.refused`` in its own transaction, after the refused work; without
    matchers, the group's common labels the silence would have used. Nothing is written
    when there is no such incident."""

    async def work(uow: UnitOfWork) -> None:
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            return
        named = tuple(matchers) or equality_matchers(incident.labels)
        event = SilenceRefused(
            matchers=tuple(str(m) for m in named),
            by=str(actor),
            why=why[:WHY_MAX],
            request=request,
        )
        await uow.timeline.append(incident_id, at=at, actor=actor, event=event)

    await in_transaction(store, work)


@dataclass(frozen=True, slots=True)
class Made:
    """A silence created and recorded: its id and end."""

    silence_id: str
    ends_at: datetime


async def create_and_record(
    store: Store,
    silences: Silences,
    incident: Incident,
    matchers: tuple[Matcher, ...],
    *,
    duration: timedelta,
    now: datetime,
    asked_by: Actor,
    broad: bool,
    approved_by: Actor | None = None,
    request: int | None = None,
) -> Made:
    """Create the silence in Alertmanager (``asked_by`` as its ``createdBy``), then record
    ``silence.created`` and the incident's ``silenced_until``. Alertmanager is asked outside
    any transaction; a database failure after it leaves a silence that ends at its end time
    without an entry."""
    ends_at = now + duration
    comment = comment_for(incident)
    if approved_by is not None:
        comment += f" (broad; approved by {approved_by})"
    silence_id = await silences.create(
        NewSilence(
            matchers=matchers,
            starts_at=now,
            ends_at=ends_at,
            created_by=str(asked_by),
            comment=comment,
        )
    )
    event = SilenceCreated(
        silence_id=silence_id,
        matchers=tuple(str(m) for m in matchers),
        ends_at=stamp(ends_at),
        by=str(asked_by),
        broad=broad,
        request=request,
        approved_by=str(approved_by) if approved_by is not None else None,
    )

    async def record(uow: UnitOfWork) -> None:
        current = await uow.incidents.get(incident.id, for_update=True)
        if current is None:
            raise NotFound(f"there is no incident #{incident.id}")
        # Another silence of the incident may outlast this one: the card shows the later end.
        held = current.silenced_until
        until = max(held, ends_at) if held is not None and held > now else ends_at
        await uow.incidents.save(replace(current, silenced_until=until, updated_at=now))
        await uow.timeline.append(incident.id, at=now, actor=approved_by or asked_by, event=event)

    await in_transaction(store, record)
    return Made(silence_id, ends_at)
