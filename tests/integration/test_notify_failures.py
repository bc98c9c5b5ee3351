"""A page refused for good shows in the incident's channel: the real outbox worker sends a
level's rows (Slack to the fake Slack, the page to a PagerDuty stand-in on 127.0.0.1), the
observer counts each page's outcome and writes the refusal on the timeline, and that entry's
thread line reaches the fake Slack, on every store."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.clock import FixedClock
from bot.domain.actor import BOT
from bot.domain.escalation import Via
from bot.domain.events import EscalationFired, EventKind, notified
from bot.domain.incident import JSON, Severity, TimelineEntry
from bot.domain.outbox import (
    CHANNEL,
    EMAIL,
    PAGERDUTY,
    SLACK,
    OutboundCall,
    OutboxStatus,
    Outcome,
    SendResult,
    pagerduty_key,
)
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.prometheus import PrometheusMetrics
from bot.integrations.slack.publisher import SlackPublisher
from bot.integrations.slack.sender import SlackSender, make_client
from bot.policy.escalation import EscalationLevel, Notify, RotationMember, recipients
from bot.policy.model import Policy
from bot.ports import Lease, Sender, Store, UnitOfWork
from bot.services.incidents.ingest_alertmanager import apply_alert_group
from bot.services.notifications import NotificationOutcomes
from bot.services.publishing import PublishingStore
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.support.outbox import TOKEN, fake_on
from tests.support.payloads import alertmanager as am

INVALID = {
    "status": "invalid event",
    "message": "Event object is invalid",
    "errors": ["'payload.summary' is missing"],
}


@dataclass
class PagerDutyStandIn:
    """Answers each enqueued event with the next queued status (202 once they run out)."""

    statuses: list[int] = field(default_factory=list)
    received: list[JSON] = field(default_factory=list)

    async def enqueue(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 202
        if status == 400:
            return web.json_response(INVALID, status=400)
        if status >= 500 or status == 429:
            return web.json_response({"status": "error"}, status=status)
        return web.json_response({"status": "success", "message": "Event processed"}, status=202)


class PageSender:
    """A minimal sender of target ``pagerduty`` over HTTP: what its answers mean for a row."""

    configured = True

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        event = {"event_action": method, **args}
        async with self._session.post(f"{self._url}/v2/enqueue", json=event) as response:
            answer: dict[str, Any] = await response.json()
        if response.status == 429:
            return SendResult(Outcome.RATE_LIMITED, method, error="HTTP 429", retry_after=5)
        if response.status >= 500:
            return SendResult(Outcome.RETRY, method, error=f"HTTP {response.status}")
        if response.status >= 400:
            error = f"{answer['message']}: {'; '.join(answer['errors'])}"
            return SendResult(Outcome.FAILED, method, error=error)
        return SendResult(Outcome.SENT, method, kept={"message": answer["message"]})

    def skip(self, call: OutboundCall) -> str:
        return "not configured"


class NoMail:
    """The email target without its settings: nothing sent, the row kept unconfigured."""

    configured = False

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        raise AssertionError("an unconfigured sender is never asked to send")

    def skip(self, call: OutboundCall) -> str:
        return "email not configured"


class Chain:
    """The Slack publisher, then the notification publisher, as the app runs them."""

    def __init__(self, *publishers: SlackPublisher | NotificationPublisher) -> None:
        self.publishers = publishers

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        for publisher in self.publishers:
            await publisher.publish(uow, incident_id, entries)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(am.T0)


@pytest.fixture
def fake(clock: FixedClock) -> FakeSlack:
    return fake_on(clock)


@pytest.fixture
async def pagerduty() -> AsyncIterator[tuple[PagerDutyStandIn, str]]:
    stand_in = PagerDutyStandIn()
    app = web.Application()
    app.router.add_post("/v2/enqueue", stand_in.enqueue)
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        yield stand_in, str(server.make_url("")).rstrip("/")


def paging_policy(policy: Policy) -> Policy:
    levels = dict(policy.levels)
    path = (
        EscalationLevel(timedelta(0), (Notify(Via.PAGE, "primary"), Notify(Via.SLACK, "primary"))),
        EscalationLevel(timedelta(minutes=15), (Notify(Via.EMAIL, "primary"),)),
    )
    levels[Severity.P0] = replace(levels[Severity.P0], path=path)
    rotation = {
        "primary": RotationMember(
            "primary", email="oncall@example.com", slack=("U0PRIMARY",), pagerduty="lnn"
        )
    }
    return replace(policy, levels=levels, rotation=rotation)


def sent_count(metrics: PrometheusMetrics, target: str, outcome: str) -> float:
    labels = {"target": target, "outcome": outcome}
    return metrics.registry.get_sample_value("firebreak_notifications_total", labels) or 0.0


async def fire_first_level(store: Store, paging: Policy, clock: FixedClock) -> tuple[int, Store]:
    """An incident opened by the real ingest and its first level fired, through a store
    publishing to Slack and notifications; its id, and that store."""
    published = PublishingStore(
        store,
        Chain(
            SlackPublisher(policy=paging, clock=clock, triage_channel="C0TRIAGE"),
            NotificationPublisher(
                paging, clock, public_url="https://firebreak.example", triage_channel="C0TRIAGE"
            ),
        ),
    )
    alert = am.alert("LNNServiceDown", namespace="firebreak", deployment="lnn-service")
    async with published.transaction() as uow:
        result = await apply_alert_group(
            uow, policy=paging, now=clock.now(), group=am.group(am.webhook("g", [alert]))
        )
    incident_id = result.opened[0].id
    level = paging.levels[Severity.P0].path[0]
    fired = EscalationFired(
        severity="P0",
        level=0,
        levels=2,
        after_seconds=0,
        notified=notified(recipients(level, paging.rotation)),
    )
    async with published.transaction() as uow:
        await uow.timeline.append(incident_id, at=clock.now(), actor=BOT, event=fired)
    return incident_id, published


async def test_a_page_refused_for_good_is_counted_and_shown_in_the_thread(
    store: Store,
    policy: Policy,
    clock: FixedClock,
    fake: FakeSlack,
    pagerduty: tuple[PagerDutyStandIn, str],
) -> None:
    stand_in, url = pagerduty
    stand_in.statuses = [503, 400]
    paging = paging_policy(policy)
    incident_id, published = await fire_first_level(store, paging, clock)
    metrics = PrometheusMetrics()
    async with run_fake_slack(fake) as slack_url, aiohttp.ClientSession() as session:
        senders: dict[str, Sender] = {
            SLACK: SlackSender(make_client(TOKEN, slack_url, timeout=5), clock=clock),
            PAGERDUTY: PageSender(session, url),
        }
        worker = OutboxWorker(
            store,
            senders,
            clock,
            worker_id="w1",
            rng=random.Random(7),
            observer=NotificationOutcomes(published, clock, metrics=metrics),
        )
        await worker.drain()
        assert sent_count(metrics, PAGERDUTY, "retry") == 1  # the 503: tried again later
        clock.advance(worker.backoff_base)
        await worker.drain()

    async with store.transaction() as uow:
        (page,) = await uow.outbox.list(ordering_key=pagerduty_key(incident_id, "lnn"))
        entries = await uow.timeline.for_incident(incident_id)
        channel = (await uow.chat_refs.refs(incident_id))[CHANNEL]
    assert (page.status, page.attempts) == (OutboxStatus.FAILED, 2)
    assert len(stand_in.received) == 2  # the 400 is not retried
    assert stand_in.received[0]["dedup_key"] == f"firebreak-{incident_id}"

    (failed,) = [e for e in entries if e.kind == EventKind.NOTIFICATION_FAILED]
    assert failed.body["outbox_id"] == page.id
    assert failed.body["address"] == "lnn"
    assert failed.body["error"] == "Event object is invalid: 'payload.summary' is missing"
    assert sent_count(metrics, PAGERDUTY, "failed") == 1
    assert sent_count(metrics, PAGERDUTY, "sent") == 0
    assert sent_count(metrics, SLACK, "sent") == 0  # Slack rows are not pages

    texts = [m.text for m in fake.messages(channel)]
    assert any("<@U0PRIMARY>" in text and "level 1/2" in text for text in texts)
    line = "Pagerduty trigger to lnn failed: Event object is invalid"
    threaded = [m for m in fake.messages(channel) if m.thread_ts and line in m.text]
    assert len(threaded) == 1


async def test_every_settled_page_and_email_is_counted_by_outcome(
    store: Store,
    policy: Policy,
    clock: FixedClock,
    fake: FakeSlack,
    pagerduty: tuple[PagerDutyStandIn, str],
) -> None:
    stand_in, url = pagerduty
    stand_in.statuses = [429]
    paging = paging_policy(policy)
    incident_id, published = await fire_first_level(store, paging, clock)
    level = paging.levels[Severity.P0].path[1]
    emailed = EscalationFired(
        severity="P0",
        level=1,
        levels=2,
        after_seconds=900,
        notified=notified(recipients(level, paging.rotation)),
    )
    async with published.transaction() as uow:
        await uow.timeline.append(incident_id, at=clock.now(), actor=BOT, event=emailed)

    metrics = PrometheusMetrics()
    async with run_fake_slack(fake) as slack_url, aiohttp.ClientSession() as session:
        senders: dict[str, Sender] = {
            SLACK: SlackSender(make_client(TOKEN, slack_url, timeout=5), clock=clock),
            PAGERDUTY: PageSender(session, url),
            EMAIL: NoMail(),
        }
        worker = OutboxWorker(
            store,
            senders,
            clock,
            worker_id="w1",
            rng=random.Random(7),
            observer=NotificationOutcomes(published, clock, metrics=metrics),
        )
        await worker.drain()
        clock.advance(5)  # the 429's Retry-After
        await worker.drain()

    assert sent_count(metrics, PAGERDUTY, "rate_limited") == 1
    assert sent_count(metrics, PAGERDUTY, "sent") == 1
    assert sent_count(metrics, EMAIL, "unconfigured") == 1
    assert sent_count(metrics, PAGERDUTY, "failed") == 0
    async with store.transaction() as uow:
        kinds = [e.kind for e in await uow.timeline.for_incident(incident_id)]
    assert EventKind.NOTIFICATION_FAILED not in kinds
    assert len(stand_in.received) == 2
