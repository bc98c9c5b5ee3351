"""``/incident silence`` and ``/incident unsilence``: an Alertmanager silence for the
incident's alerts, made from Slack and kept on the incident's timeline.

By default a silence matches the group's common labels (``Incident.labels``, stored when the
group opened the incident); ``--matcher`` replaces them. Before creating it, Alertmanager is
asked which alerts the matchers match: when some are not the incident's own, the silence
would hide other incidents' alerts too, and it is refused unless it is asked for as broad by
an approver (the settings' ``FIREBREAK_APPROVERS``, through the ``Directory`` port, as
remediation approvals are checked). The person is the silence's ``createdBy`` (their actor
string) and the incident its comment.

Alertmanager is asked outside any transaction; the silence is recorded after it exists, so a
database failure then leaves a silence that ends at its end time without an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.events import SilenceCreated, SilenceExpired, decode
from bot.domain.incident import AlertEpisode, Incident, IncidentStatus
from bot.domain.silence import (
    Matcher,
    NewSilence,
    SilencedAlert,
    SilenceState,
    equality_matchers,
)
from bot.errors import BadRequest, Forbidden, NotFound
from bot.ports import Directory, Silences, Store, UnitOfWork
from bot.services.transactions import in_transaction

DEFAULT_DURATION = timedelta(hours=2)
MAX_DURATION = timedelta(days=7)
# How many of the other alerts a refusal names.
OTHERS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    """How long, and which matchers (empty: the group's common labels); ``broad`` asks to
    silence alerts that are not the incident's too."""

    duration: timedelta = DEFAULT_DURATION
    matchers: tuple[Matcher, ...] = ()
    broad: bool = False


@dataclass(frozen=True, slots=True)
class SilenceResult:
    """The silence created, and the other incidents' alerts it matched (broad only)."""

    incident: Incident
    silence_id: str
    matchers: tuple[Matcher, ...]
    ends_at: datetime
    others: tuple[SilencedAlert, ...]


@dataclass(frozen=True, slots=True)
class Unsilenced:
    """The incident's silences that were expired now, and those that had already ended."""

    incident_id: int
    expired: tuple[str, ...]
    already_ended: tuple[str, ...]


def comment_for(incident: Incident) -> str:
    """The silence's comment: which incident it is for."""
    return f"firebreak incident #{incident.id}: {incident.title}"


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _own(alert: SilencedAlert, episodes: Sequence[AlertEpisode]) -> bool:
    return any(
        e.fingerprint == alert.fingerprint or dict(e.labels) == dict(alert.labels) for e in episodes
    )


def _alerts(count: int) -> str:
    return f"{count} alert" if count == 1 else f"{count} alerts"


def _others_text(others: Sequence[SilencedAlert]) -> str:
    shown = [
        "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(a.labels.items())) + "}"
        for a in others[:OTHERS_SHOWN]
    ]
    more = f" and {len(others) - OTHERS_SHOWN} more" if len(others) > OTHERS_SHOWN else ""
    return "; ".join(shown) + more


@dataclass(frozen=True, slots=True)
class Silencer:
    """The silence use cases with what they need; ``silences`` ``None``: no
    ``ALERTMANAGER_URL``, and every call is refused saying so."""

    store: Store
    silences: Silences | None
    directory: Directory
    approvers: tuple[str, ...]
    clock: Clock

    def _alertmanager(self) -> Silences:
        if self.silences is None:
            raise BadRequest(
                "firebreak has no Alertmanager to silence in: set ALERTMANAGER_URL to its "
                "base URL (e.g. http://alertmanager:9093)"
            )
        return self.silences

    async def silence(
        self, incident_id: int, request: SilenceRequest, *, actor: Actor
    ) -> SilenceResult:
        """Create a silence for the incident's alerts and record ``silence.created``.
        Refused (``BadRequest``) for a resolved incident, a bad duration, no matchers, or
        matchers that match other alerts without ``broad``; ``Forbidden`` for ``broad``
        from someone who is not an approver."""
        silences = self._alertmanager()
        if not timedelta(0) < request.duration <= MAX_DURATION:
            raise BadRequest("a silence lasts more than 0 seconds and at most 7 days")
        async with self.store.transaction() as uow:
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                raise NotFound(f"there is no incident #{incident_id}")
            episodes = await uow.alerts.for_incident(incident_id)
        if incident.status is IncidentStatus.RESOLVED:
            raise BadRequest(f"incident #{incident.id} is resolved: there is nothing to silence")
        matchers = request.matchers or equality_matchers(incident.labels)
        if not matchers:
            raise BadRequest(
                f"incident #{incident.id} has no alert labels to silence by (declared by "
                "hand?): name them with `--matcher label=value`"
            )
        matched = await silences.alerts(matchers)
        others = tuple(a for a in matched if not _own(a, episodes))
        # A regex or a negative matcher reaches alerts that fire later as well, which no
        # look at what fires now can rule out: it is broad by its form.
        open_ended = [m for m in matchers if m.op.is_regex or not m.op.is_equal]
        if (others or open_ended) and not request.broad:
            reach = (
                f"also match {_alerts(len(others))} outside incident #{incident.id}: "
                f"{_others_text(others)}"
                if others
                else f"include {', '.join(f'`{m}`' for m in open_ended)}, which can match "
                "alerts of other incidents as they fire"
            )
            raise BadRequest(
                f"these matchers {reach}. Narrow them with `--matcher label=value`, or ask an "
                "approver to add `--broad`"
            )
        if (others or open_ended) and not await self.directory.admits(actor, self.approvers):
            further = (
                f"these matchers also match {_alerts(len(others))} outside it"
                if others
                else "regex and negative matchers reach alerts that fire later"
            )
            raise Forbidden(
                f"only an approver may silence beyond incident #{incident.id}'s alerts: {further}"
            )
        now = self.clock.now()
        ends_at = now + request.duration
        silence_id = await silences.create(
            NewSilence(
                matchers=matchers,
                starts_at=now,
                ends_at=ends_at,
                created_by=str(actor),
                comment=comment_for(incident),
            )
        )
        event = SilenceCreated(
            silence_id=silence_id,
            matchers=tuple(str(m) for m in matchers),
            ends_at=_stamp(ends_at),
            by=str(actor),
            broad=bool(others or open_ended),
        )

        async def record(uow: UnitOfWork) -> None:
            current = await uow.incidents.get(incident_id, for_update=True)
            if current is None:
                raise NotFound(f"there is no incident #{incident_id}")
            # Another silence of the incident may outlast this one: the card shows the later end.
            held = current.silenced_until
            until = max(held, ends_at) if held is not None and held > now else ends_at
            await uow.incidents.save(replace(current, silenced_until=until, updated_at=now))
            await uow.timeline.append(incident.id, at=now, actor=actor, event=event)

        await in_transaction(self.store, record)
        return SilenceResult(incident, silence_id, matchers, ends_at, others)

    async def unsilence(self, incident_id: int, *, actor: Actor) -> Unsilenced:
        """Expire every silence the incident's timeline holds that has not been recorded as
        expired, and record ``silence.expired`` for each; ``BadRequest`` when there is none."""
        silences = self._alertmanager()
        async with self.store.transaction() as uow:
            if await uow.incidents.get(incident_id) is None:
                raise NotFound(f"there is no incident #{incident_id}")
            entries = await uow.timeline.for_incident(incident_id)
        created: dict[str, SilenceCreated] = {}
        for entry in entries:
            event = decode(entry.kind, entry.body)
            if isinstance(event, SilenceCreated):
                created[event.silence_id] = event
            elif isinstance(event, SilenceExpired):
                created.pop(event.silence_id, None)
        if not created:
            raise BadRequest(f"incident #{incident_id} has no silence of firebreak's to expire")
        held = {s.id: s for s in await silences.list()}
        now = self.clock.now()
        expired: list[str] = []
        ended: dict[str, datetime] = {}
        for silence_id in created:
            silence = held.get(silence_id)
            if silence is not None and silence.state is not SilenceState.EXPIRED:
                await silences.expire(silence_id)
                expired.append(silence_id)
            else:
                # Ended by its own end time or by someone in Alertmanager: recorded so.
                ended[silence_id] = silence.ends_at if silence is not None else now

        async def record(uow: UnitOfWork) -> None:
            current = await uow.incidents.get(incident_id, for_update=True)
            if current is None:
                raise NotFound(f"there is no incident #{incident_id}")
            await uow.incidents.save(replace(current, silenced_until=None, updated_at=now))
            for silence_id, made in created.items():
                body = SilenceExpired(
                    silence_id=silence_id,
                    matchers=made.matchers,
                    ends_at=_stamp(ended.get(silence_id, now)),
                    by=str(actor),
                )
                await uow.timeline.append(incident_id, at=now, actor=actor, event=body)

        await in_transaction(self.store, record)
        return Unsilenced(incident_id, tuple(expired), tuple(ended))
