"""The shipped default policy (bot/policy/default.yaml) classifies as issue 2 requires and\nescalates as issue 16 requires (seed 000's on-call rotation and escalation path)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.escalation import Via
from bot.domain.incident import Severity
from bot.policy.escalation import Notify, recipients
from bot.policy.file import DEFAULT_POLICY, load_policy, parse_policy
from bot.policy.model import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY)


@pytest.mark.parametrize(
    ("labels", "severity", "minutes", "scenario"),
    [
        ({"alertname": "LNNServiceDown", "severity": "critical"}, Severity.P0, 15, "service-down"),
        ({"alertname": "LNNHighLatency", "severity": "critical"}, Severity.P1, 60, "high-latency"),
        ({"alertname": "LNNHighMemory", "severity": "warning"}, Severity.P2, 240, "high-memory"),
        # No severity label: no rule matches, the default decides.
        ({"alertname": "LNNServiceDown"}, Severity.P2, 240, "minor-issues"),
        ({"alertname": "SomethingNew"}, Severity.P2, 240, "minor-issues"),
        # A critical alert without its own rule is still P1, not P2.
        ({"alertname": "LNNDiskFull", "severity": "critical"}, Severity.P1, 60, None),
    ],
)
def test_alert_classification(
    policy: Policy,
    labels: dict[str, str],
    severity: Severity,
    minutes: int,
    scenario: str | None,
) -> None:
    verdict = policy.classify_labels(labels)
    assert verdict.severity is severity
    assert verdict.response_minutes == minutes
    if scenario is not None:
        assert verdict.scenario.id == scenario


def test_every_p1_threshold_from_the_runbook_has_its_scenario(policy: Policy) -> None:
    # The runbook's five critical thresholds each get their own triage, not a generic card.
    expected = {
        "LNNHighLatency": "high-latency",
        "LNNHighErrorRate": "high-error-rate",
        "LNNLowThroughput": "low-throughput",
        "LNNHighMemory": "high-memory",
        "LNNHighCPU": "high-cpu",
    }
    for alertname, scenario in expected.items():
        verdict = policy.classify_labels({"alertname": alertname, "severity": "critical"})
        assert (verdict.severity, verdict.scenario.id) == (Severity.P1, scenario), alertname


def test_the_default_when_no_rule_matches(policy: Policy) -> None:
    verdict = policy.classify_labels({})
    assert verdict.rule == "default"
    assert verdict.severity is Severity.P2


@pytest.mark.parametrize(
    ("priority", "urgency", "severity"),
    [
        ("P1", "high", Severity.P0),
        ("P1", "low", Severity.P0),
        ("P2", "low", Severity.P1),
        ("P2", None, Severity.P1),
        # Priority names are compared without regard to case.
        ("p1", None, Severity.P0),
        # Lower priorities and none: urgency decides.
        ("P3", "high", Severity.P1),
        ("P5", "low", Severity.P2),
        (None, "high", Severity.P1),
        (None, "low", Severity.P2),
        ("", "high", Severity.P1),
    ],
)
def test_pagerduty_classification(
    policy: Policy, priority: str | None, urgency: str | None, severity: Severity
) -> None:
    assert policy.classify_pagerduty(priority, urgency).severity is severity


def test_pagerduty_rules_never_match_alert_labels(policy: Policy) -> None:
    # Labels that look like PagerDuty fields must not reach the PagerDuty rules.
    verdict = policy.classify_labels({"priority": "P1", "urgency": "high"})
    assert not verdict.rule.startswith("pagerduty")


def test_alert_rules_never_match_pagerduty_incidents(policy: Policy) -> None:
    verdict = policy.classify_pagerduty(None, None)
    assert verdict.rule == "default"


def test_levels_carry_the_runbook_response_times_and_steps(policy: Policy) -> None:
    assert {s: lv.response_minutes for s, lv in policy.levels.items()} == {
        Severity.P0: 15,
        Severity.P1: 60,
        Severity.P2: 240,
    }
    p0_steps = " ".join(policy.levels[Severity.P0].steps).lower()
    for step in ("pod status", "recent deployments", "rollback", "incident commander"):
        assert step in p0_steps


def test_scenarios_have_triage_steps(policy: Policy) -> None:
    for scenario in policy.scenarios.values():
        assert scenario.triage, scenario.id
    down = policy.scenarios["service-down"]
    assert any("kubectl get pods" in step for step in down.triage)
    assert any("rollout history" in step for step in down.triage)
    assert {a.verb for a in down.actions} >= {"rollback"}


def test_scale_actions_are_bounded_3_to_10(policy: Policy) -> None:
    scales = [a for s in policy.scenarios.values() for a in s.actions if a.verb == "scale"]
    assert scales, "the runbook's scale-up mitigations should be actions"
    for action in scales:
        assert (action.bounds.min_replicas, action.bounds.max_replicas) == (3, 10)
        assert action.replicas is not None
        assert 3 <= action.replicas <= 10
        assert action.namespace != "kube-system"


def test_service_of_reads_the_first_present_service_label(policy: Policy) -> None:
    assert policy.service_of({"job": "lnn", "service": "lnn-service"}) == "lnn-service"
    assert policy.service_of({"job": "lnn"}) == "lnn"
    assert policy.service_of({"service": "", "app": "x"}) == "x"
    assert policy.service_of({}) == "unknown"


RULE_ORDER = """
version: 1
name: order
severities:
  P0: {name: a, response_minutes: 15}
  P1: {name: b, response_minutes: 60}
  P2: {name: c, response_minutes: 240}
scenarios:
  s: {title: S}
rules:
  - {name: first, match: ['severity="critical"'], severity: P1, scenario: s}
  - {name: second, match: ['alertname="X"', 'severity="critical"'], severity: P0, scenario: s}
  - {name: third, pagerduty: {urgency: high}, severity: P1, scenario: s}
  - {name: fourth, pagerduty: {priority: P1}, severity: P0, scenario: s}
default: {severity: P2, scenario: s}
"""


def test_first_matching_rule_wins() -> None:
    policy = parse_policy(RULE_ORDER)
    # Both rules match; the earlier, broader one decides even though the later is more severe.
    verdict = policy.classify_labels({"alertname": "X", "severity": "critical"})
    assert (verdict.rule, verdict.severity) == ("first", Severity.P1)
    verdict = policy.classify_pagerduty("P1", "high")
    assert (verdict.rule, verdict.severity) == ("third", Severity.P1)


def test_default_policy_puts_specific_rules_before_generic_ones(policy: Policy) -> None:
    # service-down must come before other-critical, or a down service would only be P1.
    names = [r.name for r in policy.rules]
    assert names.index("service-down") < names.index("other-critical")
    assert policy.classify_labels({"alertname": "LNNServiceDown", "severity": "critical"}).rule == (
        "service-down"
    )


# --- issue 16: the rotation and the escalation paths of seed 000 ----------------------------


def path_of(policy: Policy, severity: Severity) -> list[tuple[timedelta, list[tuple[Via, str]]]]:
    """Each level as (delay, [(how, who)]), rotation keys resolved to addresses."""
    return [
        (level.after, [(r.via, r.address) for r in recipients(level, policy.rotation)])
        for level in policy.levels[severity].path
    ]


def test_the_rotation_is_the_runbooks(policy: Policy) -> None:
    rotation = policy.rotation
    assert {k: m.email for k, m in rotation.items()} == {
        "primary": "liquid-edge-oncall@company.com",
        "secondary": "platform-oncall@company.com",
        "team-lead": "",
        "manager": "liquid-edge-lead@company.com",
        "vp": "",
    }
    # Slack ids are placeholders (README: replace them); every member has one.
    for member in rotation.values():
        assert member.slack, member.key
        assert all(ident[1:].startswith("0000") for ident in member.slack), member.slack
    assert rotation["secondary"].slack == ("S0000PLATFORM",)
    # Pages go to the default routing key.
    assert {m.pagerduty for m in rotation.values()} == {""}


def test_p0_pages_then_escalates_every_level(policy: Policy) -> None:
    assert path_of(policy, Severity.P0) == [
        (timedelta(0), [(Via.PAGE, ""), (Via.SLACK, "U0000PRIMARY")]),
        (
            timedelta(minutes=15),
            [(Via.EMAIL, "platform-oncall@company.com"), (Via.SLACK, "S0000PLATFORM")],
        ),
        (timedelta(minutes=30), [(Via.SLACK, "U0000TEAMLEAD")]),
        (
            timedelta(hours=1),
            [(Via.EMAIL, "liquid-edge-lead@company.com"), (Via.SLACK, "U0000MANAGER")],
        ),
        (timedelta(hours=2), [(Via.SLACK, "U0000VPENG")]),
    ]
    levels = policy.levels[Severity.P0].path
    assert [lv.name for lv in levels] == [
        "on-call engineer",
        "secondary on-call",
        "team lead",
        "engineering manager",
        "VP Engineering",
    ]
    assert levels[0].notify[0] == Notify(Via.PAGE, "primary")
    assert all(lv.upgrade is None for lv in levels)


def test_p1_is_a_slack_alert_that_becomes_p0_after_an_hour(policy: Policy) -> None:
    first, second = policy.levels[Severity.P1].path
    assert (first.after, first.notify, first.upgrade) == (
        timedelta(0),
        (Notify(Via.SLACK, "primary"),),
        None,
    )
    assert (second.after, second.notify, second.upgrade) == (timedelta(hours=1), (), Severity.P0)


def test_p2_is_an_email_then_a_reminder_at_four_hours(policy: Policy) -> None:
    assert path_of(policy, Severity.P2) == [
        (timedelta(0), [(Via.EMAIL, "liquid-edge-oncall@company.com")]),
        (timedelta(hours=4), [(Via.SLACK, "U0000PRIMARY")]),
    ]


def test_responders_stay_empty_until_the_placeholders_are_replaced(policy: Policy) -> None:
    # Slack refuses to invite an id that does not exist: a placeholder responder would make
    # every incident's invitation fail. The YAML shows the line to add (the primary's id).
    assert policy.responders == {}
    assert "#     default: [U0000PRIMARY]" in DEFAULT_POLICY.read_text(encoding="utf-8")


def test_the_card_still_has_each_severitys_escalation_in_words(policy: Policy) -> None:
    for level in policy.levels.values():
        assert level.escalation
    assert "page" in policy.levels[Severity.P0].escalation
