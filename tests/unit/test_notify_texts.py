"""What a page and an email say, and how a settled page or email is counted and, when it
failed for good, written on its incident's timeline."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.events import EventKind
from bot.domain.incident import AlertEpisode, AlertStatus, IncidentStatus, Severity
from bot.domain.outbox import EMAIL, PAGERDUTY, SLACK, OutboundCall, OutboxMessage, OutboxStatus
from bot.errors import StorageUnavailable
from bot.integrations.notify import email_text, pagerduty_event
from bot.integrations.prometheus import PrometheusMetrics
from bot.policy.model import Policy
from bot.services.notifications import NotificationOutcomes
from bot.text import cut
from tests.fakes.memory.store import MemoryStore
from tests.support.incidents import T0, incident
from tests.support.store_builders import new_incident

URL = "https://firebreak.example"


def episode(n: int, **labels: str) -> AlertEpisode:
    return AlertEpisode(
        id=n,
        incident_id=42,
        fingerprint=f"fp{n}",
        status=AlertStatus.FIRING,
        severity=Severity.P1,
        labels={"alertname": "LNNHighLatency", "pod": f"lnn-{n}", **labels},
        annotations={"summary": f"p99 is high on lnn-{n}", "noise": "x" * 5000},
        starts_at=T0 + timedelta(seconds=n),
        ends_at=None,
        generator_url="",
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(Severity.P0, "critical"), (Severity.P1, "error"), (Severity.P2, "warning")],
)
def test_the_trigger_carries_the_severity_pagerduty_names(
    policy: Policy, severity: Severity, expected: str
) -> None:
    args = pagerduty_event.trigger_args(
        incident(severity=severity), [], policy, level="l", public_url=URL
    )
    assert args["severity"] == expected
    assert args["summary"].startswith(f"[{severity.value}] ")
    assert args["service"] == ""  # the default routing key
    assert args["source"] == "lnn-service"


def test_the_trigger_is_bounded_and_one_line(policy: Policy) -> None:
    long = incident(title="down\nand out " + "x" * 3000)
    alerts = [episode(n, namespace="firebreak", big="v" * 1000) for n in range(15)]
    args = pagerduty_event.trigger_args(long, alerts, policy, level="l", public_url=URL)
    assert len(args["summary"]) <= 1024
    assert "\n" not in args["summary"]
    details = args["custom_details"]
    assert len(details["alerts"]) == pagerduty_event.ALERTS_MAX
    assert details["alerts_not_shown"] == 5
    first = details["alerts"][0]
    assert len(first["labels"]["big"]) <= pagerduty_event.VALUE_MAX
    assert set(first["annotations"]) == {"summary"}  # a few known annotations only
    assert args["group"] == "firebreak"
    assert len(json.dumps(args)) < 64_000  # far below PagerDuty's 512 KB


def test_a_follow_up_is_acknowledge_or_resolve_only() -> None:
    call = pagerduty_event.follow_up(incident(), "resolve", "lnn-service")
    assert call.args == {"dedup_key": "firebreak-42", "service": "lnn-service"}
    assert (call.target, call.ordering_key) == (PAGERDUTY, "pagerduty:42:lnn-service")
    with pytest.raises(ValueError, match="not a PagerDuty follow-up"):
        pagerduty_event.follow_up(incident(), "trigger", "")


def test_the_subject_is_one_line_whatever_the_title() -> None:
    subject = email_text.subject(incident(title="evil\r\nBcc: all@example.com " + "y" * 400))
    assert subject.startswith("[firebreak P1] #42 evil Bcc: all@example.com")
    assert "\r" not in subject
    assert "\n" not in subject
    assert len(subject) <= email_text.SUBJECT_MAX


def test_the_body_says_overdue_once_the_target_passed(policy: Policy) -> None:
    body = email_text.body(
        incident(),
        [episode(1, namespace="firebreak")],
        policy,
        reason="escalation level 2/4 (secondary)",
        now=T0 + timedelta(minutes=75),
        public_url=URL,
    )
    assert "Response target: 1 h (overdue by 15 min)" in body
    assert "Why you get this: escalation level 2/4 (secondary)" in body
    assert "- LNNHighLatency (P1, firing): p99 is high on lnn-1" in body
    assert "kubectl top pods -n firebreak -l app.kubernetes.io/name=lnn-service" in body
    assert "Steps for every P1:\n1. Analyze performance metrics" in body
    assert f"Incident page: {URL}/ui/incidents/42" in body
    # Where the incident is worked on: its Slack channel.
    assert "Slack: #inc-" in body
    assert "acknowledge in Slack with /incident ack 42" in body


def test_the_body_of_an_answered_incident_says_when(policy: Policy) -> None:
    acked = replace(
        incident(), status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=T0 + timedelta(minutes=7)
    )
    body = email_text.body(
        acked, [], policy, reason="r", now=T0 + timedelta(hours=2), public_url=URL
    )
    assert "Response target: 1 h (met, answered after 7 min)" in body
    assert "Status: acknowledged" in body


def test_the_body_counts_the_target_down_in_parentheses(policy: Policy) -> None:
    p2 = incident(severity=Severity.P2, response_minutes=240)
    body = email_text.body(
        p2, [], policy, reason="r", now=T0, public_url=URL, triage_channel="C0TRIAGE"
    )
    assert "Response target: 4 h (4 h left)" in body
    # A P2 has no channel of its own: it is worked on in the triage channel.
    assert "Slack: the triage channel (C0TRIAGE)" in body
    bare = email_text.body(p2, [], policy, reason="r", now=T0, public_url=URL)
    assert "Slack:" not in bare


def test_the_page_says_what_its_link_is_and_where_in_slack_to_look(policy: Policy) -> None:
    p1 = incident(severity=Severity.P1, response_minutes=60)
    args = pagerduty_event.trigger_args(p1, [], policy, level="l", public_url=URL)
    assert args["links"] == [
        {
            "href": f"{URL}/ui/incidents/42",
            "text": "firebreak incident #42",
        }
    ]
    details = args["custom_details"]
    assert details["slack"] == f"#inc-{T0:%Y%m%d}-0042-lnn-high-latency"
    assert (details["response_target"], details["respond_by"]) == (
        "1 h",
        (T0 + timedelta(hours=1)).isoformat(),
    )
    p2 = incident(severity=Severity.P2)
    triage = pagerduty_event.trigger_args(
        p2, [], policy, level="l", public_url=URL, triage_channel="C0TRIAGE"
    )
    assert triage["custom_details"]["slack"] == "the triage channel (C0TRIAGE)"


def test_one_cut_for_pages_and_emails() -> None:
    assert cut("abcdef", 6) == "abcdef"
    assert cut("abcdefg", 6) == "abcde…"
    assert not hasattr(email_text, "_cut")
    assert not hasattr(pagerduty_event, "_cut")


def message(target: str, incident_id: int | None, **args: object) -> OutboxMessage:
    call = OutboundCall(
        ordering_key="k", method="trigger", args=dict(args), incident_id=incident_id, target=target
    )
    return OutboxMessage(
        id=7, call=call, status=OutboxStatus.FAILED, attempts=1, not_before=T0, created_at=T0
    )


def counted(metrics: PrometheusMetrics, target: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "firebreak_notifications_total", {"target": target, "outcome": outcome}
    )
    return value or 0.0


async def test_a_page_failed_for_good_is_counted_and_written_on_the_timeline(
    clock: FixedClock,
) -> None:
    store = MemoryStore()
    async with store.transaction() as uow:
        opened = await uow.incidents.create(new_incident())
    metrics = PrometheusMetrics()
    outcomes = NotificationOutcomes(store, clock, metrics=metrics)
    page = message(PAGERDUTY, opened.id, service="lnn-service")
    await outcomes.settled(page, "retry", "HTTP 503")
    await outcomes.settled(page, "failed", "Event object is invalid")
    await outcomes.settled(message(SLACK, opened.id), "failed", "channel_not_found")
    await outcomes.settled(message(EMAIL, None, to=["a@example.com"]), "failed", "550")
    assert counted(metrics, PAGERDUTY, "retry") == 1
    assert counted(metrics, PAGERDUTY, "failed") == 1
    assert counted(metrics, EMAIL, "failed") == 1
    assert counted(metrics, SLACK, "failed") == 0
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(opened.id)
    (failed,) = [e for e in entries if e.kind == EventKind.NOTIFICATION_FAILED]
    assert failed.body == {
        "target": "pagerduty",
        "method": "trigger",
        "error": "Event object is invalid",
        "outbox_id": 7,
        "address": "lnn-service",
    }


async def test_an_outcome_that_cannot_be_recorded_is_logged_not_raised(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    metrics = PrometheusMetrics()
    store.fail_with = StorageUnavailable("database down")
    outcomes = NotificationOutcomes(store, clock, metrics=metrics)
    await outcomes.settled(message(EMAIL, 1, to=["a@example.com"]), "failed", "550 no such user")
    assert counted(metrics, EMAIL, "failed") == 1
    assert "could not record the failed of outbox row 7" in caplog.text
