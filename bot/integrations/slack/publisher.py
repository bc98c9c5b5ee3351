"""Which Slack calls each change needs, queued in the outbox inside the change's transaction.

P0 and P1 incidents get a channel of their own (created, topic set, responders invited) and the
card posted there; P2 incidents post the card to the triage channel. Later changes update the
card in place and add one thread reply per transaction listing what happened, so an alert storm
on one incident costs one card update and one reply per delivery, not one per alert.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from bot.clock import Clock
from bot.domain.events import EventKind, GraphAttached, decode
from bot.domain.incident import Incident, Severity, TimelineEntry
from bot.domain.links import incident_page
from bot.domain.outbox import CARD_CHANNEL, CARD_TS, CHANNEL, OutboundCall, incident_key
from bot.integrations.slack import calls
from bot.integrations.slack.actions import (
    action_ids,
    post_action,
    render_action,
    restore_offer,
    update_action,
)
from bot.integrations.slack.card import CardView, render_card, render_triage_post
from bot.integrations.slack.channels import channel_name, channel_topic
from bot.integrations.slack.graphs import graph_upload
from bot.integrations.slack.messages import render_timeline_entry, render_unsilence_offer
from bot.integrations.slack.postmortem import TIMELINE_ROWS_MAX, postmortem_upload
from bot.integrations.slack.silence_requests import silence_request_calls
from bot.integrations.slack.text import link
from bot.policy.model import Policy
from bot.ports import UnitOfWork
from bot.services.escalation.standing import reached
from bot.services.incidents.postmortem import read_postmortem, render_facts

log = logging.getLogger(__name__)

CHANNEL_SEVERITIES = frozenset({Severity.P0, Severity.P1})

# Entries that change what the card shows.
CARD_KINDS = frozenset(
    {
        EventKind.ALERT_FIRING,
        EventKind.ALERT_RESOLVED,
        EventKind.SEVERITY_CHANGED,
        EventKind.INCIDENT_ACKNOWLEDGED,
        EventKind.INCIDENT_TRIGGERED,
        EventKind.INCIDENT_FLAPPED,
        EventKind.INCIDENT_RESOLVED,
        EventKind.COMMANDER_ASSIGNED,
        # The response field shows the level reached, then "overdue".
        EventKind.ESCALATION_FIRED,
        EventKind.RESPONSE_OVERDUE,
        # The card says until when the incident's alerts are silenced.
        EventKind.SILENCE_CREATED,
        EventKind.SILENCE_EXPIRED,
        # A storm's card counts its groups; a merge or split moves alerts.
        EventKind.STORM_FORMED,
        EventKind.STORM_JOINED,
        EventKind.INCIDENT_MERGED,
        EventKind.INCIDENT_SPLIT,
    }
)
# Entries not shown in the thread, as noise there: the opening (the card says it), a re-sent
# group, someone reading the timeline, and the raw PagerDuty events whose effect is threaded
# as incident.* or severity.changed. A reassignment or an escalation in PagerDuty has no other
# trace, so those get their line. Every other kind gets a thread line.
PAGERDUTY_SHOWN = frozenset({EventKind.PAGERDUTY_REASSIGNED, EventKind.PAGERDUTY_ESCALATED})
# A broad silence request is threaded as its own message with Approve and Deny. A graph is
# its own message in the channel (the upload), and an incident without one opens in Slack
# exactly as before graphs existed: the timeline and the page say why.
QUIET_KINDS = frozenset(
    {
        EventKind.INCIDENT_OPENED,
        EventKind.ALERT_REPEAT,
        EventKind.COMMAND_VIEWED,
        EventKind.SILENCE_REQUESTED,
        EventKind.GRAPH_ATTACHED,
        EventKind.GRAPH_UNAVAILABLE,
        # The file arrives in the channel with its own message.
        EventKind.POSTMORTEM_REQUESTED,
    }
    | {kind for kind in EventKind if kind.is_pagerduty and kind not in PAGERDUTY_SHOWN}
)
THREAD_LINES_MAX = 20


def threaded(entry: TimelineEntry) -> bool:
    """Whether ``entry`` gets a line in the incident's thread."""
    return entry.kind not in QUIET_KINDS


class SlackPublisher:
    """The ``Publisher`` port for Slack: renders and queues; the outbox worker sends."""

    def __init__(
        self,
        *,
        policy: Policy,
        clock: Clock,
        triage_channel: str,
        responders: Mapping[str, Sequence[str]] | None = None,
        public_url: str = "",
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._triage = triage_channel
        # Where the card and the merge notice link to (the incident's web page); "": nowhere.
        self._public_url = public_url
        self._responders = responders if responders is not None else policy.responders

    def responders_for(self, service: str) -> list[str]:
        """The service's responders, else the policy's ``default`` list (ids, deduplicated)."""
        ids = self._responders.get(service) or self._responders.get("default") or ()
        return list(dict.fromkeys(ids))

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            return
        kinds = {entry.kind for entry in entries}
        if incident.merged_into is not None and EventKind.INCIDENT_MERGED in kinds:
            await self._merged(uow, incident, opened=EventKind.INCIDENT_OPENED in kinds)
            return
        if EventKind.INCIDENT_OPENED in kinds:
            await self._post_card(
                uow,
                incident,
                new_channel=incident.severity in CHANNEL_SEVERITIES,
            )
            return
        if (
            EventKind.SEVERITY_CHANGED in kinds
            and incident.severity in CHANNEL_SEVERITIES
            and not await self._has_channel(uow, incident.id)
        ):
            # A P2 raised to P1/P0 gets its room now; the card moves there.
            await self._post_card(uow, incident, new_channel=True)
        elif kinds & CARD_KINDS:
            card = render_card(await self._view(uow, incident))
            await self._add(uow, calls.update_card(incident.id, text=card.text, blocks=card.blocks))
        lines = [entry for entry in entries if threaded(entry)]
        if lines:
            await self._thread(uow, incident, lines)
        await self._actions(uow, entries)
        for entry in entries:
            if entry.kind == EventKind.POSTMORTEM_REQUESTED:
                await self._postmortem(uow, incident, entry)
            elif entry.kind == EventKind.GRAPH_ATTACHED:
                await self._graph(uow, incident, entry)
        for call in await silence_request_calls(uow, incident.id, entries, now=self._clock.now()):
            await self._add(uow, call)
        if EventKind.INCIDENT_RESOLVED in kinds:
            offer = restore_offer(incident.id, await uow.actions.for_incident(incident.id))
            if offer is not None:
                await self._add(uow, offer)
            silenced = incident.silenced_until
            if silenced is not None and silenced > self._clock.now():
                message = render_unsilence_offer(incident.id, silenced)
                await self._add(
                    uow,
                    calls.post_in_thread(incident.id, text=message.text, blocks=message.blocks),
                )

    async def _merged(self, uow: UnitOfWork, incident: Incident, *, opened: bool) -> None:
        """An incident merged into another: its unsent calls were cancelled, so one opened in
        this very transaction (a storm forming) never gets a channel; one whose card is out
        says where to continue."""
        refs = {} if opened else await uow.chat_refs.refs(incident.id)
        target = incident.merged_into
        page = incident_page(self._public_url, target) if target is not None else ""
        text = f"Merged into {link(page, f'#{target}') if page else f'#{target}'}: continue there."
        if refs.get(CARD_TS) and refs.get(CARD_CHANNEL):
            card = render_card(await self._view(uow, incident))
            await self._add(uow, calls.update_card(incident.id, text=card.text, blocks=card.blocks))
            await self._add(uow, calls.post_in_thread(incident.id, text=text))
        elif channel := refs.get(CHANNEL):
            # The channel was made but its card was cancelled unsent: say it in the channel.
            await self._add(uow, calls.post_to_channel(channel, text=text, incident_id=incident.id))

    async def _postmortem(self, uow: UnitOfWork, incident: Incident, entry: TimelineEntry) -> None:
        """The document made in the requesting transaction: the record up to ``entry``."""
        facts = await read_postmortem(uow, incident.id, policy=self._policy)
        if facts is not None:
            document = render_facts(facts, now=entry.at, timeline_max=TIMELINE_ROWS_MAX)
            await self._add(uow, postmortem_upload(incident.id, document, entry))

    async def _graph(self, uow: UnitOfWork, incident: Incident, entry: TimelineEntry) -> None:
        """The PNG the graph worker stored with ``entry``, uploaded into the channel."""
        event = decode(entry.kind, entry.body)
        stored = await uow.graphs.get(incident.id)
        if isinstance(event, GraphAttached) and stored is not None and stored.png:
            await self._add(uow, graph_upload(incident.id, stored.png, event))

    async def _actions(self, uow: UnitOfWork, entries: Sequence[TimelineEntry]) -> None:
        now = self._clock.now()
        for action_id, new in action_ids(entries):
            action = await uow.actions.get(action_id)
            if action is None:
                continue
            message = render_action(action, policy=self._policy, now=now)
            await self._add(
                uow, post_action(action, message) if new else update_action(action, message)
            )

    async def _post_card(
        self,
        uow: UnitOfWork,
        incident: Incident,
        *,
        new_channel: bool,
    ) -> None:
        view = await self._view(uow, incident)
        if not new_channel:
            if not self._triage:
                log.warning("incident #%d is P2 and SLACK_TRIAGE_CHANNEL is unset", incident.id)
                return
            post = render_triage_post(view)
            await self._add(
                uow,
                calls.post_card(
                    incident.id, text=post.text, blocks=post.blocks, channel=self._triage
                ),
            )
            return
        await self._add(uow, calls.create_channel(incident.id, channel_name(incident)))
        await self._add(uow, calls.set_topic(incident.id, channel_topic(incident)))
        responders = self.responders_for(incident.service)
        if responders:
            await self._add(uow, calls.invite(incident.id, responders))
        card = render_card(view)
        await self._add(uow, calls.post_card(incident.id, text=card.text, blocks=card.blocks))

    async def _thread(
        self, uow: UnitOfWork, incident: Incident, entries: Sequence[TimelineEntry]
    ) -> None:
        rendered = [render_timeline_entry(entry) for entry in entries[:THREAD_LINES_MAX]]
        blocks = [block for message in rendered for block in message.blocks]
        text = "\n".join(message.text for message in rendered)
        if len(entries) > THREAD_LINES_MAX:
            more = len(entries) - THREAD_LINES_MAX
            text += f"\n… and {more} more (see /incident timeline {incident.id})"
        await self._add(uow, calls.post_in_thread(incident.id, text=text, blocks=blocks[:50]))

    async def _has_channel(self, uow: UnitOfWork, incident_id: int) -> bool:
        if (await uow.chat_refs.refs(incident_id)).get(CHANNEL):
            return True
        queued = await uow.outbox.calls_of(incident_key(incident_id))
        return any(method == "conversations.create" for method, _ in queued)

    async def _view(self, uow: UnitOfWork, incident: Incident) -> CardView:
        timers = await uow.escalations.for_incident(incident.id)
        return CardView(
            incident=incident,
            alerts=await uow.alerts.for_incident(incident.id),
            scenario=self._policy.scenarios.get(incident.scenario),
            commander=incident.commander,
            now=self._clock.now(),
            kubernetes=self._policy.kubernetes,
            reached=reached(timers, self._policy),
            timers=timers,
            steps=level.steps if (level := self._policy.levels.get(incident.severity)) else (),
            flap=self._policy.noise.flap,
            page=incident_page(self._public_url, incident.id),
        )

    async def _add(self, uow: UnitOfWork, call: OutboundCall) -> None:
        await uow.outbox.add_later(call, at=self._clock.now())
