"""The ``Publisher`` that turns escalation facts into pages, emails and Slack mentions, and
keeps PagerDuty in step when firebreak acknowledges or resolves.

It runs inside the transaction that wrote the entries (``bot.services.publishing``), after
the Slack publisher, so its rows commit with the fact that asked for them, or not at all:

* ``escalation.fired`` and ``page.requested``: per recipient of the body, a PagerDuty
  ``trigger`` (``page``), an email (``email``), and one Slack message mentioning every Slack
  recipient of the entry (``slack``) beside the card. An incident PagerDuty opened is never
  paged: PagerDuty's escalation policy already pages for it, and a trigger would come back
  as a new PagerDuty incident. A page by hand has a dedup key of its own
  (``page_dedup_key``), so PagerDuty opens a new alert for it instead of folding it into the
  one already open;
* ``incident.acknowledged`` and ``incident.resolved``: ``acknowledge`` / ``resolve`` to each
  (dedup key, PagerDuty service) pair the incident triggered, unless PagerDuty itself caused
  the change (sending its own news back would be an echo).

Whether paging and email are configured is not its business: the rows are queued anyway and
an unconfigured target's sender logs them (the timeline's note is the escalation's).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.clock import Clock
from bot.domain.actor import SYSTEM, Actor
from bot.domain.escalation import Recipient, Via
from bot.domain.events import EscalationFired, EventKind, PageRequested, decode, recipients_of
from bot.domain.incident import AlertEpisode, Incident, Severity, Source, TimelineEntry
from bot.domain.outbox import (
    CARD_CHANNEL,
    CARD_TS,
    OutboundCall,
    OutboxStatus,
    incident_key,
    page_dedup_key,
    pagerduty_key,
)
from bot.integrations.notify import email_text, pagerduty_event
from bot.integrations.notify.brief import incident_link
from bot.integrations.slack import calls
from bot.integrations.slack.messages import render_mention
from bot.integrations.slack.text import escape, is_group_id, is_user_id, who
from bot.policy.model import Policy
from bot.ports import UnitOfWork

log = logging.getLogger(__name__)

ASKING = frozenset({EventKind.ESCALATION_FIRED, EventKind.PAGE_REQUESTED})
FOLLOW_UP = {
    EventKind.INCIDENT_ACKNOWLEDGED: "acknowledge",
    EventKind.INCIDENT_RESOLVED: "resolve",
}
# A trigger that may still open (or has opened) an alert in PagerDuty; one that failed for
# good or was only logged opened nothing there to acknowledge.
LIVE = frozenset({OutboxStatus.PENDING, OutboxStatus.SENT})
PAGERDUTY_SOURCE = "pagerduty"


def from_pagerduty(actor: Actor) -> bool:
    """Whether PagerDuty caused the entry: the inbound events' actor ``system:pagerduty``
    (``bot.services.incidents.ingest_pagerduty``), or a PagerDuty user kept as
    ``pagerduty:<id>``."""
    if actor.source == PAGERDUTY_SOURCE:
        return True
    return actor.source == SYSTEM and actor.id.partition(":")[0] == PAGERDUTY_SOURCE


def reason(entry: TimelineEntry) -> str:
    """Why the entry tells people, in words (``escalation level 2/4 (secondary)``)."""
    event = decode(entry.kind, entry.body)
    if isinstance(event, EscalationFired):
        line = f"escalation level {event.level + 1}/{event.levels or '?'}"
        return line + (f" ({event.name})" if event.name else "")
    return f"paged by hand by {entry.actor}"


def _recipients(entry: TimelineEntry) -> tuple[Recipient, ...]:
    event = decode(entry.kind, entry.body)
    if isinstance(event, EscalationFired | PageRequested):
        return recipients_of(event.notified)
    return ()


class NotificationPublisher:
    """The ``Publisher`` port for notifications: queues the rows; the outbox worker sends.

    ``public_url`` is where links in pages and emails point; ``triage_channel`` receives the
    mentions of a P2 whose card has no channel of its own yet to go to."""

    def __init__(
        self, policy: Policy, clock: Clock, *, public_url: str, triage_channel: str
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._triage = triage_channel

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        wanted = [
            entry
            for entry in entries
            if entry.kind in ASKING or (entry.kind in FOLLOW_UP and not from_pagerduty(entry.actor))
        ]
        if not wanted:
            return
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            return
        alerts: Sequence[AlertEpisode] | None = None
        for entry in wanted:
            if entry.kind in ASKING:
                if alerts is None:
                    alerts = await uow.alerts.for_incident(incident.id)
                await self._tell(uow, incident, alerts, entry)
            else:
                await self._follow_up(uow, incident, FOLLOW_UP[EventKind(entry.kind)])

    async def _tell(
        self,
        uow: UnitOfWork,
        incident: Incident,
        alerts: Sequence[AlertEpisode],
        entry: TimelineEntry,
    ) -> None:
        now = self._clock.now()
        why = reason(entry)
        # The response deadline the card shows: the latest path's target, read once.
        timers = await uow.escalations.for_incident(incident.id)
        people: list[str] = []
        subject = body = ""
        by_hand = entry.kind == EventKind.PAGE_REQUESTED
        for recipient in _recipients(entry):
            if recipient.via is Via.PAGE:
                if incident.source is Source.PAGERDUTY:
                    log.warning(
                        "incident #%d came from PagerDuty: %s is not paged again",
                        incident.id,
                        recipient.who,
                    )
                    continue
                args = pagerduty_event.trigger_args(
                    incident,
                    alerts,
                    self._policy,
                    level=why,
                    public_url=self._public_url,
                    service=recipient.address,
                    timers=timers,
                    triage_channel=self._triage,
                    dedup_key=page_dedup_key(incident.id, entry.seq) if by_hand else None,
                )
                await self._add(uow, pagerduty_event.trigger(incident, args), now)
            elif recipient.via is Via.EMAIL:
                if not recipient.address:
                    log.warning("incident #%d: %s has no email address", incident.id, recipient.who)
                    continue
                if not body:
                    subject = email_text.subject(incident)
                    body = email_text.body(
                        incident,
                        alerts,
                        self._policy,
                        reason=why,
                        now=now,
                        public_url=self._public_url,
                        timers=timers,
                        triage_channel=self._triage,
                    )
                call = email_text.send(
                    incident, recipient.address, subject_line=subject, text=body, entry=entry.seq
                )
                await self._add(uow, call, now)
            elif is_user_id(recipient.address) or is_group_id(recipient.address):
                people.append(recipient.address)
            else:
                log.warning(
                    "incident #%d: %r is not a Slack user or group id; not mentioned",
                    incident.id,
                    recipient.address,
                )
        if people:
            await self._mention(uow, incident, list(dict.fromkeys(people)), entry, now)

    async def _mention(
        self,
        uow: UnitOfWork,
        incident: Incident,
        people: list[str],
        entry: TimelineEntry,
        now: datetime,
    ) -> None:
        if entry.kind == EventKind.ESCALATION_FIRED:
            line = escape(reason(entry)).replace("escalation", "Escalation", 1)
        else:
            line = f"Paged by hand by {who(str(entry.actor))}"
        page = incident_link(self._public_url, incident.id)
        message = render_mention(incident, people, reason=line, now=now, page=page)
        if await self._has_card(uow, incident.id):
            call = calls.post_mention(incident.id, text=message.text, blocks=message.blocks)
        elif incident.severity is Severity.P2 and self._triage:
            call = calls.post_mention(
                incident.id, text=message.text, blocks=message.blocks, channel=self._triage
            )
        else:
            log.warning("incident #%d has no card to mention %s beside", incident.id, people)
            return
        await self._add(uow, call, now)

    async def _has_card(self, uow: UnitOfWork, incident_id: int) -> bool:
        """The card is posted, or its post is queued (the mention then follows it)."""
        if (await uow.chat_refs.refs(incident_id)).get(CARD_CHANNEL):
            return True
        queued = await uow.outbox.calls_of(incident_key(incident_id), status=OutboxStatus.PENDING)
        return any(CARD_TS in saves for _, saves in queued)

    async def _follow_up(self, uow: UnitOfWork, incident: Incident, method: str) -> None:
        for dedup_key, service in await _triggered(uow, incident.id):
            call = pagerduty_event.follow_up(incident, method, service, dedup_key)
            await self._add(uow, call, self._clock.now())

    async def _add(self, uow: UnitOfWork, call: OutboundCall, at: datetime) -> None:
        await uow.outbox.add_later(call, at=at)


async def _paged_services(uow: UnitOfWork, incident_id: int) -> list[str]:
    """The PagerDuty services the incident's pages went to (``""``: the default routing
    key), as its timeline says: each has an ordering key of its own."""
    services: list[str] = []
    for entry in await uow.timeline.for_incident(incident_id):
        if entry.kind in ASKING:
            services += [r.address for r in _recipients(entry) if r.via is Via.PAGE]
    return list(dict.fromkeys(services))


async def _triggered(uow: UnitOfWork, incident_id: int) -> list[tuple[str, str]]:
    """The (dedup key, service) pairs of the incident's live triggers, oldest first."""
    pairs: list[tuple[str, str]] = []
    for service in await _paged_services(uow, incident_id):
        for message in await uow.outbox.list(ordering_key=pagerduty_key(incident_id, service)):
            args = message.call.args
            if message.call.method == "trigger" and message.status in LIVE:
                pairs.append((str(args.get("dedup_key") or ""), str(args.get("service") or "")))
    return list(dict.fromkeys(pair for pair in pairs if pair[0]))
