"""``/incident silence`` and ``/incident unsilence``: an Alertmanager silence for the
incident's alerts, made from Slack and kept on the incident's timeline.

By default a silence matches the group's common labels (``Incident.labels``, stored when the
group opened the incident); ``--matcher`` replaces them. Before creating it, Alertmanager is
asked which alerts the matchers match: when some are not the incident's own (or a matcher is
a regex or a negation), the silence is broad. A broad silence is refused without ``--broad``;
with it, an approver (the settings' ``FIREBREAK_APPROVERS``, through the ``Directory`` port,
as remediation approvals are checked) makes it at once, and anyone else asks for it: an
approver approves or denies the request (``silence_requests``). The person is the silence's
``createdBy`` (their actor string) and the incident its comment. Every refusal is a
``silence.refused`` entry too.

When a silence ends, by ``unsilence`` or by its end time (``sweep_ended``, run by a worker),
firebreak asks Alertmanager which of the silenced alerts still fire and resolves the others
(``silence_end``, ``silence_check``): Alertmanager never tells of an alert that resolved
while silenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.actor import Actor
from bot.domain.incident import AlertEpisode, Incident, IncidentStatus
from bot.domain.silence import (
    Matcher,
    SilencedAlert,
    equality_matchers,
)
from bot.errors import BadRequest, Conflict, Forbidden, NotFound, UpstreamError
from bot.ports import Directory, Silences, Store
from bot.services.incidents import silence_requests as requests
from bot.services.incidents.silence_end import Unsilenced, sweep_ended, unsilence
from bot.services.incidents.silence_entries import create_and_record, record_refusal
from bot.services.incidents.silence_requests import SilenceAsked

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
    """The silence created, and the other incidents' alerts it matched; ``broad``: it was
    broad (made by an approver at once, or by ``approved_by``'s approval)."""

    incident: Incident
    silence_id: str
    matchers: tuple[Matcher, ...]
    ends_at: datetime
    others: tuple[SilencedAlert, ...]
    broad: bool = False
    approved_by: Actor | None = None


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
    ``ALERTMANAGER_URL``, and every call is refused saying so. ``approval_ttl``: seconds a
    broad silence request waits for an approver."""

    store: Store
    silences: Silences | None
    directory: Directory
    approvers: tuple[str, ...]
    clock: Clock
    approval_ttl: float = 600

    def _alertmanager(self) -> Silences:
        if self.silences is None:
            raise BadRequest(
                "firebreak has no Alertmanager to silence in: set ALERTMANAGER_URL to its "
                "base URL (e.g. http://alertmanager:9093)"
            )
        return self.silences

    async def silence(
        self, incident_id: int, request: SilenceRequest, *, actor: Actor
    ) -> SilenceResult | SilenceAsked:
        """Create a silence for the incident's alerts and record ``silence.created``; a broad
        one asked with ``broad`` by someone who is not an approver is a request instead
        (``SilenceAsked``). Refused (``BadRequest``, and a ``silence.refused`` entry) for a
        resolved incident, a bad duration, no matchers, broad matchers without ``broad``;
        ``UpstreamError`` (recorded too) when Alertmanager refuses or cannot be asked."""
        try:
            return await self._silence(incident_id, request, actor=actor)
        except (BadRequest, Forbidden, Conflict, UpstreamError) as exc:
            await record_refusal(
                self.store,
                incident_id,
                actor=actor,
                at=self.clock.now(),
                matchers=request.matchers,
                why=str(exc),
            )
            raise

    async def _silence(
        self, incident_id: int, request: SilenceRequest, *, actor: Actor
    ) -> SilenceResult | SilenceAsked:
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
        broad = bool(others or open_ended)
        if broad and not request.broad:
            reach = (
                f"also match {_alerts(len(others))} outside incident #{incident.id}: "
                f"{_others_text(others)}"
                if others
                else f"include {', '.join(f'`{m}`' for m in open_ended)}, which can match "
                "alerts of other incidents as they fire"
            )
            raise BadRequest(
                f"these matchers {reach}. Narrow them with `--matcher label=value`, or add "
                "`--broad` to ask an approver for it"
            )
        now = self.clock.now()
        if broad and not await self.directory.admits(actor, self.approvers):
            why = (
                f"matches {_alerts(len(others))} outside incident #{incident.id}: "
                f"{_others_text(others)}"
                if others
                else "regex and negative matchers reach alerts that fire later"
            )
            return await requests.ask(
                self.store,
                incident.id,
                matchers=matchers,
                duration=request.duration,
                actor=actor,
                now=now,
                ttl=self.approval_ttl,
                why=why,
            )
        made = await create_and_record(
            self.store,
            silences,
            incident,
            matchers,
            duration=request.duration,
            now=now,
            asked_by=actor,
            broad=broad,
        )
        return SilenceResult(incident, made.silence_id, matchers, made.ends_at, others, broad)

    async def approve(self, incident_id: int, request: int, *, actor: Actor) -> SilenceResult:
        """An approver approves broad silence request ``request``: the silence is made."""
        done = await requests.approve(
            self.store,
            self._alertmanager(),
            incident_id,
            request,
            actor=actor,
            approver=await self.directory.admits(actor, self.approvers),
            now=self.clock.now(),
        )
        made = done.made
        return SilenceResult(
            done.incident, made.silence_id, done.matchers, made.ends_at, (), True, actor
        )

    async def deny(self, incident_id: int, request: int, *, actor: Actor) -> int:
        """An approver denies request ``request``, or its requester withdraws it."""
        await requests.deny(
            self.store,
            incident_id,
            request,
            actor=actor,
            approver=await self.directory.admits(actor, self.approvers),
            now=self.clock.now(),
        )
        return request

    async def unsilence(self, incident_id: int, *, actor: Actor) -> Unsilenced:
        """Expire the incident's silences (``silence_end.unsilence``)."""
        return await unsilence(
            self.store, self._alertmanager(), incident_id, actor=actor, now=self.clock.now()
        )

    async def sweep_ended(self) -> list[int]:
        """Record the silences whose end passed (``silence_end.sweep_ended``); nothing
        without an Alertmanager."""
        if self.silences is None:
            return []
        return await sweep_ended(self.store, self.silences, now=self.clock.now())
