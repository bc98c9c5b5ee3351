"""Every policy shipped under policy/ classifies as its runbook says (``firebreak policy check``
on each is in tests/integration/test_shipped_policies_check.py). Files are found by glob, so a
new policy is checked without editing this test; the classification table must then get its
cases (a test says so)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

import bot.policy
from bot.domain.escalation import Via
from bot.domain.incident import Severity
from bot.policy.escalation import recipients
from bot.policy.file import load_policy
from bot.policy.model import Policy

# The package's directory in this checkout (the wheel test covers an installed copy).
POLICY_DIR = Path(bot.policy.__file__).resolve().parent
SHIPPED = sorted(POLICY_DIR.rglob("*.yaml"))


def policy_id(path: Path) -> str:
    return path.relative_to(POLICY_DIR).as_posix()


@dataclass(frozen=True)
class Alert:
    labels: dict[str, str]
    severity: Severity
    scenario: str
    minutes: int


@dataclass(frozen=True)
class Page:
    priority: str | None
    urgency: str | None
    severity: Severity
    minutes: int


# A few alerts per policy, at least one per severity, with what its runbook makes of them.
ALERTS: dict[str, list[Alert]] = {
    "default.yaml": [
        Alert(
            {"alertname": "LNNServiceDown", "severity": "critical"}, Severity.P0, "service-down", 15
        ),
        Alert(
            {"alertname": "LNNHighErrorRate", "severity": "critical"},
            Severity.P1,
            "high-error-rate",
            60,
        ),
        Alert(
            {"alertname": "LNNLowThroughput", "severity": "warning"},
            Severity.P2,
            "low-throughput",
            240,
        ),
    ],
    "examples/litert.yaml": [
        # The runbook's alert ids and Prometheus-style names both work.
        Alert({"alertname": "MODEL_CRITICAL"}, Severity.P0, "model-critical", 15),
        Alert(
            {"alertname": "LiteRTMemoryCritical", "severity": "critical"},
            Severity.P0,
            "memory-pressure",
            15,
        ),
        Alert(
            {"alertname": "ERROR_RATE_WARNING", "severity": "warning"},
            Severity.P1,
            "error-rate",
            60,
        ),
        Alert(
            {"alertname": "LiteRTPerformanceWarning"}, Severity.P1, "performance-degradation", 60
        ),
        Alert(
            {"alertname": "MODEL_UPDATE_AVAILABLE", "severity": "info"}, Severity.P2, "info", 1440
        ),
        # An unknown LiteRT alert still follows its severity label.
        Alert(
            {"alertname": "LiteRTNew", "service": "litert-service", "severity": "critical"},
            Severity.P0,
            "model-critical",
            15,
        ),
    ],
    "examples/llm-analytics-hub.yaml": [
        # Runbook P1 (service down) is firebreak P0.
        Alert({"alertname": "AnalyticsAPIDown", "severity": "P1"}, Severity.P0, "service-down", 15),
        Alert(
            {"alertname": "TimescaleDBDown", "severity": "critical"},
            Severity.P0,
            "database-down",
            15,
        ),
        Alert(
            {"alertname": "AnalyticsAPIHighLatency", "severity": "P2"},
            Severity.P1,
            "high-latency",
            60,
        ),
        Alert(
            {"alertname": "AnalyticsHighMemory", "severity": "P3"},
            Severity.P2,
            "resource-pressure",
            1440,
        ),
        # Runbook P4 is firebreak P2 with a longer target.
        Alert(
            {"alertname": "HelmChartOutdated", "severity": "P4"}, Severity.P2, "informational", 4320
        ),
        Alert(
            {"alertname": "KubePodNotReady", "severity": "critical"},
            Severity.P0,
            "service-down",
            15,
        ),
    ],
    "examples/counterfactual-lab.yaml": [
        Alert(
            {"alertname": "CounterfactualLabDown", "severity": "critical"},
            Severity.P0,
            "service-down",
            15,
        ),
        Alert(
            {"alertname": "CounterfactualLabHighErrorRate", "severity": "critical"},
            Severity.P0,
            "high-error-rate",
            15,
        ),
        Alert(
            {"alertname": "CounterfactualLabMemoryHigh", "severity": "warning"},
            Severity.P1,
            "memory-usage-high",
            60,
        ),
        Alert(
            {"alertname": "Slow", "app": "counterfactual-lab", "severity": "warning"},
            Severity.P1,
            "high-response-time",
            60,
        ),
        Alert(
            {"alertname": "CounterfactualLabQualityScoreLow"}, Severity.P2, "business-metrics", 1440
        ),
    ],
}

PAGES: dict[str, list[Page]] = {
    "default.yaml": [
        Page("P1", "high", Severity.P0, 15),
        Page("P2", "high", Severity.P1, 60),
        Page(None, "low", Severity.P2, 240),
    ],
    "examples/litert.yaml": [
        Page("P1", "low", Severity.P0, 15),
        Page("P3", "high", Severity.P1, 60),
        Page(None, "low", Severity.P2, 1440),
    ],
    "examples/llm-analytics-hub.yaml": [
        Page("P1", "high", Severity.P0, 15),
        Page("P2", "low", Severity.P1, 60),
        Page("P3", "high", Severity.P2, 1440),
        Page("P4", "high", Severity.P2, 4320),
        Page(None, "high", Severity.P1, 60),
    ],
    "examples/counterfactual-lab.yaml": [
        Page("P1", "high", Severity.P0, 15),
        Page("P2", "high", Severity.P1, 60),
        Page(None, "low", Severity.P2, 1440),
    ],
}


def test_policy_glob_finds_the_default_and_the_three_examples() -> None:
    assert {policy_id(p) for p in SHIPPED} >= {
        "default.yaml",
        "examples/litert.yaml",
        "examples/llm-analytics-hub.yaml",
        "examples/counterfactual-lab.yaml",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=policy_id)
def test_every_shipped_policy_has_classification_cases(path: Path) -> None:
    cases = ALERTS.get(policy_id(path), [])
    assert {c.severity for c in cases} == set(Severity), "add alerts for this policy to ALERTS"
    assert PAGES.get(policy_id(path)), "add PagerDuty cases for this policy to PAGES"


@pytest.mark.parametrize(
    ("name", "alert"),
    [(name, alert) for name, alerts in ALERTS.items() for alert in alerts],
    ids=lambda v: v if isinstance(v, str) else v.labels.get("alertname", "?"),
)
def test_policy_alert_classification(name: str, alert: Alert) -> None:
    verdict = load_policy(POLICY_DIR / name).classify_labels(alert.labels)
    assert (verdict.severity, verdict.scenario.id, verdict.response_minutes) == (
        alert.severity,
        alert.scenario,
        alert.minutes,
    ), verdict.rule


@pytest.mark.parametrize(
    ("name", "page"),
    [(name, page) for name, pages in PAGES.items() for page in pages],
    ids=lambda v: v if isinstance(v, str) else f"{v.priority}-{v.urgency}",
)
def test_policy_pagerduty_classification(name: str, page: Page) -> None:
    verdict = load_policy(POLICY_DIR / name).classify_pagerduty(page.priority, page.urgency)
    assert (verdict.severity, verdict.response_minutes) == (page.severity, page.minutes)


@pytest.mark.parametrize("path", SHIPPED, ids=policy_id)
def test_invariants_of_every_shipped_policy(path: Path) -> None:
    policy = load_policy(path)
    # Each severity can actually be produced by some alert rule, PagerDuty rule or the default.
    reachable = {r.severity for r in policy.rules} | {policy.default_severity}
    assert reachable == set(Severity)
    used = {r.scenario for r in policy.rules} | {policy.default_scenario}
    for scenario in policy.scenarios.values():
        assert scenario.triage, f"{scenario.id} has no triage steps"
        assert scenario.id in used, f"{scenario.id} is never chosen by a rule"
        for action in scenario.actions:
            assert action.namespace != "kube-system"
            if action.verb == "scale":
                assert action.bounds.min_replicas is not None
                assert action.bounds.max_replicas is not None
                if action.replicas is not None:
                    assert action.bounds.min_replicas <= action.replicas
                    assert action.replicas <= action.bounds.max_replicas
    # Runbooks order their levels: a more severe level never has a slower response target.
    minutes = [policy.levels[s].response_minutes for s in (Severity.P0, Severity.P1, Severity.P2)]
    assert minutes == sorted(minutes)


def scale_actions(
    policy: Policy, scenario: str
) -> list[tuple[str | None, str | None, int | None, int | None, int | None]]:
    return [
        (a.deployment, a.namespace, a.replicas, a.bounds.min_replicas, a.bounds.max_replicas)
        for a in policy.scenarios[scenario].actions
        if a.verb == "scale"
    ]


def test_analytics_hub_policy_scales_analytics_api_within_its_hpa_range() -> None:
    policy = load_policy(POLICY_DIR / "examples/llm-analytics-hub.yaml")
    # `kubectl scale ... --replicas=10` for high latency, `--replicas=8` for resource pressure;
    # the HPA is --min=3 --max=15.
    assert scale_actions(policy, "high-latency") == [
        ("analytics-api", "llm-analytics-hub", 10, 3, 15)
    ]
    assert scale_actions(policy, "resource-pressure") == [
        ("analytics-api", "llm-analytics-hub", 8, 3, 15)
    ]
    assert "rollback" in {a.verb for a in policy.scenarios["service-down"].actions}


def test_counterfactual_lab_policy_scales_to_5_on_high_error_rate() -> None:
    policy = load_policy(POLICY_DIR / "examples/counterfactual-lab.yaml")
    [(deployment, _, replicas, _, maximum)] = scale_actions(policy, "high-error-rate")
    assert (deployment, replicas) == ("counterfactual-lab", 5)
    assert maximum == 5


def test_litert_policy_model_rollback_is_a_rollback_action() -> None:
    policy = load_policy(POLICY_DIR / "examples/litert.yaml")
    for scenario in ("model-critical", "error-rate"):
        actions = policy.scenarios[scenario].actions
        assert ("rollback", "litert-service") in {(a.verb, a.deployment) for a in actions}
    # Its runbook never scales: no scale action was made up.
    assert not any(a.verb == "scale" for s in policy.scenarios.values() for a in s.actions)


# --- issue 16: escalation paths from each runbook -----------------------------------------

Level = tuple[timedelta, list[tuple[Via, str]]]


def path_of(policy: Policy, severity: Severity) -> list[Level]:
    """Each level as (delay, [(how, address)]); an upgrade is listed as the pair
    (SLACK, "upgrade to P0") so one table says everything."""
    out: list[Level] = []
    for level in policy.levels[severity].path:
        told = [(r.via, r.address) for r in recipients(level, policy.rotation)]
        if level.upgrade is not None:
            told.append((Via.SLACK, f"upgrade to {level.upgrade.value}"))
        out.append((level.after, told))
    return out


M = timedelta(minutes=1)
H = timedelta(hours=1)
ZERO = timedelta(0)

# What each example's runbook says; the default's is in tests/unit/test_default_policy.py.
PATHS: dict[str, dict[Severity, list[Level]]] = {
    # Critical: acknowledged within 5 minutes, answered within 15; warning within an hour.
    "examples/litert.yaml": {
        Severity.P0: [
            (ZERO, [(Via.PAGE, ""), (Via.SLACK, "U0000ONCALL")]),
            (5 * M, [(Via.SLACK, "U0000BACKUP")]),
            (15 * M, [(Via.EMAIL, "tech-lead@payslipmax.com"), (Via.SLACK, "U0000TECHLEAD")]),
        ],
        Severity.P1: [
            (ZERO, [(Via.SLACK, "U0000ONCALL")]),
            (H, [(Via.EMAIL, "tech-lead@payslipmax.com"), (Via.SLACK, "U0000TECHLEAD")]),
        ],
        Severity.P2: [],
    },
    # On-call through PagerDuty, DevOps lead, DBA (Slack #database), security.
    "examples/llm-analytics-hub.yaml": {
        Severity.P0: [
            (ZERO, [(Via.PAGE, ""), (Via.SLACK, "U0000ONCALL")]),
            (15 * M, [(Via.EMAIL, "devops-lead@example.com"), (Via.SLACK, "U0000DEVOPSLEAD")]),
            (30 * M, [(Via.SLACK, "S0000DATABASE"), (Via.EMAIL, "dba@example.com")]),
            (
                45 * M,
                [
                    (Via.EMAIL, "security@example.com"),
                    (Via.EMAIL, "security-escalation@example.com"),
                ],
            ),
        ],
        Severity.P1: [
            (ZERO, [(Via.SLACK, "U0000ONCALL"), (Via.EMAIL, "oncall@example.com")]),
            (H, [(Via.EMAIL, "devops-lead@example.com"), (Via.SLACK, "U0000DEVOPSLEAD")]),
        ],
        Severity.P2: [(ZERO, [(Via.EMAIL, "oncall@example.com")])],
    },
    # Primary (24/7), secondary, then security.
    "examples/counterfactual-lab.yaml": {
        Severity.P0: [
            (
                ZERO,
                [(Via.PAGE, ""), (Via.SLACK, "U0000PRIMARY"), (Via.EMAIL, "daniel@terragon.ai")],
            ),
            (15 * M, [(Via.EMAIL, "team@terragon.ai"), (Via.SLACK, "S0000TEAM")]),
            (30 * M, [(Via.EMAIL, "security@terragon.ai")]),
        ],
        Severity.P1: [
            (ZERO, [(Via.SLACK, "U0000PRIMARY"), (Via.EMAIL, "daniel@terragon.ai")]),
            (H, [(Via.EMAIL, "team@terragon.ai"), (Via.SLACK, "S0000TEAM")]),
        ],
        Severity.P2: [],
    },
    "default.yaml": {
        Severity.P1: [
            (ZERO, [(Via.SLACK, "U0000PRIMARY")]),
            (H, [(Via.SLACK, "upgrade to P0")]),
        ],
    },
}


@pytest.mark.parametrize(
    ("name", "severity"),
    [(name, sev) for name, paths in PATHS.items() for sev in paths],
    ids=lambda v: v if isinstance(v, str) else v.value,
)
def test_policy_escalation_path(name: str, severity: Severity) -> None:
    policy = load_policy(POLICY_DIR / name)
    assert path_of(policy, severity) == PATHS[name][severity]


@pytest.mark.parametrize("path", SHIPPED, ids=policy_id)
def test_escalation_invariants_of_every_shipped_policy(path: Path) -> None:
    policy = load_policy(path)
    assert policy_id(path) in PATHS, "add this policy's escalation paths to PATHS"
    # A critical incident pages someone at once.
    first = policy.levels[Severity.P0].path[0]
    assert first.after == ZERO
    assert any(n.via is Via.PAGE for n in first.notify)
    # Every member of the rotation is told at some level.
    named = {n.who for lv in policy.levels.values() for level in lv.path for n in level.notify}
    assert set(policy.rotation) <= named
    # Shipped Slack ids are placeholders for the operator to replace (the YAML says so), and
    # the responders invited to channels, where a policy has them, are the rotation's (the
    # default ships none: see tests/unit/test_default_policy.py).
    slack_ids = {i for m in policy.rotation.values() for i in m.slack}
    assert all(i[1:5] == "0000" for i in slack_ids), slack_ids
    invited = {i for ids in policy.responders.values() for i in ids}
    assert invited <= slack_ids
    assert "REPLACE THE SLACK IDS" in path.read_text(encoding="utf-8")
    # Each severity still says in words how it escalates (the card shows it).
    assert all(lv.escalation for lv in policy.levels.values())
