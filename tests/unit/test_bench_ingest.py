"""bench.ingest's pure parts: the bodies it sends, what it reads from /metrics and from the
fake Slack, and how it reports percentiles past the samples that arrived."""

from __future__ import annotations

import math

from bench.ingest.bodies import ALERTNAME, delivery_body, group_body
from bench.ingest.load import bodies
from bench.ingest.report_scenarios import ms_cell
from bench.ingest.scenarios import first_calls
from bench.ingest.servers import parse_metrics
from bot.policy.model import Policy
from handlers.alertmanager_schema import parse_alertmanager


def test_single_alert_deliveries_are_each_a_service_of_their_own(policy: Policy) -> None:
    one, two = (parse_alertmanager(delivery_body(f"run-a-{i}")) for i in (1, 2))
    services = {policy.service_of(g.alerts[0].labels) for g in (one, two)}
    assert services == {"run-a-1", "run-a-2"}
    assert one.group_key != two.group_key
    assert [a.fingerprint for a in one.alerts] == ["run-a-1"]


def test_a_named_service_is_shared(policy: Policy) -> None:
    groups = [parse_alertmanager(delivery_body(f"s-{i}", "storm-svc")) for i in range(3)]
    assert {policy.service_of(g.alerts[0].labels) for g in groups} == {"storm-svc"}
    assert len({g.group_key for g in groups}) == 3


def test_the_storm_can_send_another_alertname() -> None:
    group = parse_alertmanager(delivery_body("s-1", "storm-svc", "LNNService%Down"))
    assert group.alerts[0].labels["alertname"] == "LNNService%Down"
    assert group.common_labels["alertname"] == "LNNService%Down"
    assert parse_alertmanager(delivery_body("s-2")).alerts[0].labels["alertname"] == ALERTNAME


def test_large_groups_are_re_sent_unchanged() -> None:
    sent = bodies("run-l", 7, None, 3, 50)
    assert len(sent) == 7
    assert sent[0] == sent[3] == sent[6] != sent[1]
    group = parse_alertmanager(sent[1])
    assert len(group.alerts) == 50
    assert len({a.fingerprint for a in group.alerts}) == 50
    assert all(a.fingerprint.startswith("run-l-g1-") for a in group.alerts)
    assert parse_alertmanager(group_body("g", 2)).group_key != group.group_key


def test_metrics_count_finished_alertmanager_deliveries_only() -> None:
    text = "\n".join(
        (
            'firebreak_inbox_processed_total{outcome="processed",source="alertmanager"} 7.0',
            'firebreak_inbox_processed_total{outcome="duplicate",source="alertmanager"} 2.0',
            'firebreak_inbox_processed_total{outcome="pending",source="alertmanager"} 5.0',
            'firebreak_inbox_processed_total{outcome="processed",source="pagerduty"} 4.0',
            'firebreak_incidents_opened_total{severity="P1",source="alertmanager"} 6.0',
            "firebreak_inbox_pending 3.0",
        )
    )
    progress = parse_metrics(text)
    assert (progress.processed, progress.opened, progress.pending) == (9, 6, 3)


def test_first_call_per_incident_comes_from_the_channel_name() -> None:
    calls: list[dict[str, object]] = [
        {"method": "chat.postMessage", "at": 12.0, "channel_name": "inc-20261207-0002-x"},
        {"method": "conversations.create", "at": 10.0, "name": "inc-20261207-0002-x"},
        {"method": "conversations.create", "at": 11.0, "name": "inc-20261207-0017-lnn"},
        {"method": "auth.test", "at": 1.0},
        {"method": "chat.postMessage", "at": 2.0, "channel_name": "triage"},
    ]
    assert first_calls(calls) == {2: 10.0, 17: 11.0}


def test_percentiles_past_the_arrived_samples_say_so() -> None:
    arrived = [0.1] * 98
    assert ms_cell([*arrived, math.inf, math.inf], 99, 30) == "> 30,000"
    assert ms_cell([*arrived, 0.2, math.inf], 99, 30) == "200.0"
    assert ms_cell([*arrived, 0.2, math.inf], 50, 30) == "100.0"
