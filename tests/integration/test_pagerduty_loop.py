"""No loop between firebreak and PagerDuty, on every store backend, through the real inbox,
escalation reactor, escalation worker and publishers (Slack's and the notification one).

Firebreak's trigger makes PagerDuty open an incident whose ``incident_key`` is firebreak's
dedup key; PagerDuty then reports it back. That report must land on the incident the page was
for, never open a new one (which would be paged in turn, without end), and an incident
PagerDuty opened itself is never paged (PagerDuty's escalation policy pages for it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import TimerStatus
from bot.domain.events import EventKind
from bot.domain.incident import Delivery, Incident, IncidentFilter, IncidentStatus, Source
from bot.domain.outbox import PAGERDUTY, OutboxMessage
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.page import PageRequest, page
from bot.services.publishing import PublishingStore
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of
from tests.support.inbox import deliver, processor
from tests.support.payloads import alertmanager as am
from tests.support.payloads.pagerduty import encode, incident_event

REACH = Reach(paging=True, email=True)
TRIAGE = "C0TRIAGE"


@pytest.fixture
def paths(policy: Policy) -> Policy:
    return escalation_policy(policy)


def wired(store: Store, policy: Policy, clock: FixedClock) -> PublishingStore:
    """``store`` publishing as the app does: reactor, Slack, then notifications."""
    return escalating_store(
        store,
        policy,
        clock,
        more=[
            SlackPublisher(policy=policy, clock=clock, triage_channel=TRIAGE),
            NotificationPublisher(
                policy, clock, public_url="https://firebreak.example", triage_channel=TRIAGE
            ),
        ],
    )


async def from_pagerduty(store: Store, policy: Policy, clock: FixedClock, **event: Any) -> None:
    """A v3 webhook delivery stored in the inbox and applied, as the running bot does."""
    payload = incident_event(event.pop("event_type", "incident.triggered"), clock.now(), **event)
    delivery = Delivery(Source.PAGERDUTY, uuid.uuid4().hex, clock.now(), encode(payload))
    async with store.transaction() as uow:
        assert await uow.deliveries.enqueue_once(delivery)
    await processor(store, policy, clock, pagerduty=True).drain()


async def incidents(store: Store) -> Sequence[Incident]:
    async with store.transaction() as uow:
        return await uow.incidents.list(IncidentFilter())


async def triggers(store: Store) -> list[OutboxMessage]:
    async with store.transaction() as uow:
        rows = await uow.outbox.list()
    return [m for m in rows if m.call.target == PAGERDUTY and m.call.method == "trigger"]


async def test_an_incident_pagerduty_opened_is_never_paged_and_its_echo_opens_nothing(
    store: Store, paths: Policy, clock: FixedClock
) -> None:
    bot = wired(store, paths, clock)
    # Someone opens a P1-priority (firebreak P0) incident in PagerDuty.
    await from_pagerduty(bot, paths, clock, incident_id="PD1", priority="P1", incident_key="x-1")
    (born,) = await incidents(store)
    assert (born.source, born.pagerduty_id) == (Source.PAGERDUTY, "PD1")
    assert await timers_of(store, born.id) == []
    for _ in range(4):
        clock.advance(20 * 60)
        await fire_due(bot, paths, clock, REACH)
    assert await triggers(store) == []

    # Even a PagerDuty incident carrying firebreak's key for it (as a page from an older
    # firebreak would have made) belongs to it: recorded there, not linked, nothing opened.
    clock.advance(5)
    await from_pagerduty(
        bot, paths, clock, incident_id="PD2", priority="P1", incident_key=born.dedup_key
    )
    (after,) = await incidents(store)
    assert (after.id, after.pagerduty_id, after.status) == (
        born.id,
        "PD1",
        IncidentStatus.TRIGGERED,
    )
    received = await entries_of(store, born.id, EventKind.for_pagerduty("incident.triggered"))
    assert len(received) == 2
    assert await triggers(store) == []
    assert await timers_of(store, born.id) == []


async def test_a_page_by_hand_comes_back_to_the_incident_it_was_for(
    store: Store, paths: Policy, clock: FixedClock
) -> None:
    bot = wired(store, paths, clock)
    opened = await deliver(bot, paths, clock, am.webhook("g", [am.alert("LNNServiceDown")]))
    (incident,) = opened.opened
    await fire_due(bot, paths, clock, REACH)  # the P0 path's first level pages the primary
    # PagerDuty opens PD1 for the path's page and reports it: it links.
    await from_pagerduty(bot, paths, clock, incident_id="PD1", incident_key=incident.dedup_key)
    await page(
        bot,
        paths,
        incident.id,
        PageRequest(),
        actor=Actor("slack", "U0PAGER"),
        at=clock.now(),
        reach=REACH,
    )
    path_page, by_hand = await triggers(store)
    assert path_page.call.args["dedup_key"] == incident.dedup_key
    hand_key = str(by_hand.call.args["dedup_key"])
    assert hand_key.startswith(f"{incident.dedup_key}-page-")

    # The page by hand opened PD2 in PagerDuty; someone acknowledges it there, then
    # resolves that alert: the incident is acknowledged (someone answered), not resolved.
    for event_type in ("incident.triggered", "incident.acknowledged", "incident.resolved"):
        clock.advance(30)
        await from_pagerduty(
            bot, paths, clock, event_type=event_type, incident_id="PD2", incident_key=hand_key
        )
    (after,) = await incidents(store)
    assert (after.id, after.pagerduty_id, after.status) == (
        incident.id,
        "PD1",
        IncidentStatus.ACKNOWLEDGED,
    )
    assert len(await triggers(store)) == 2
    statuses = {t.status for t in await timers_of(store, incident.id)}
    assert TimerStatus.PENDING not in statuses, "the acknowledgement stopped the path"
    assert TimerStatus.CANCELLED in statuses
