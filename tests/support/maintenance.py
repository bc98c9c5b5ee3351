"""Maintenance tests through the real inbox processor and publishers: the publishing store
(escalation reactor, Slack, notifications), one alert of lnn-service delivered and its due
levels fired, and what an incident got (pages, channels, the path's first level)."""

from __future__ import annotations

from datetime import datetime

from bot.clock import FixedClock
from bot.domain.events import EventKind
from bot.domain.incident import Severity
from bot.domain.outbox import PAGERDUTY, SLACK
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.queries import show_incident
from bot.services.publishing import PublishingStore
from tests.support.escalation import entries_of, escalating_store
from tests.support.inbox import deliver
from tests.support.outbox import rows
from tests.support.payloads.alertmanager import alert, webhook

REACH = Reach(paging=True, email=True)
TRIAGE = "C0TRIAGE"


def published(store: Store, policy: Policy, clock: FixedClock) -> PublishingStore:
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


async def fire(
    store: Store, policy: Policy, clock: FixedClock, group: str, name: str, at: datetime
) -> tuple[int, Severity, list[str]]:
    """Deliver one alert of lnn-service at ``at`` and fire what is due: the incident, its
    severity and its timeline's kinds."""
    clock.advance((at - clock.now()).total_seconds())
    payload = webhook(group, [alert(name, service="lnn-service", group=group, starts_at=at)])
    result = await deliver(published(store, policy, clock), policy, clock, payload)
    [incident_id] = result.incident_ids
    await fire_due(published(store, policy, clock), policy, clock, REACH)
    detail = await show_incident(store, incident_id)
    return incident_id, detail.incident.severity, [e.kind for e in detail.timeline]


async def effects(store: Store, incident_id: int) -> tuple[int, int]:
    """(pages queued, channels created) for ``incident_id``."""
    calls = [r.call for r in await rows(store) if r.call.incident_id == incident_id]
    pages = sum(1 for c in calls if c.target == PAGERDUTY)
    channels = sum(1 for c in calls if c.target == SLACK and c.method == "conversations.create")
    return pages, channels


async def assert_paged(store: Store, incident_id: int, severity: Severity) -> None:
    """Level 0 of ``severity``'s path fired last, and the primary was told: a mention in
    Slack, and for P0 a PagerDuty trigger too (the P1 path has no PagerDuty page)."""
    fired = await entries_of(store, incident_id, EventKind.ESCALATION_FIRED)
    assert [(e.body["severity"], e.body["level"]) for e in fired][-1:] == [(severity.value, 0)]
    calls = [r.call for r in await rows(store) if r.call.incident_id == incident_id]
    mentions = [c for c in calls if c.target == SLACK and "<@U0PRIMARY>" in str(c.args)]
    assert mentions
    pages = [c for c in calls if c.target == PAGERDUTY]
    assert bool(pages) is (severity is Severity.P0)
