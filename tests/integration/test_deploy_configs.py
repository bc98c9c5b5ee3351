"""The shipped Prometheus rules and Alertmanager configuration are valid for the real tools;
every alert carries the labels firebreak acts on and the annotations people read; the rule
unit tests cover each alert firing and not firing; and every LNN alert is classified by the
default policy as the runbook says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.incident import Severity
from bot.policy.model import Policy
from tests.support.binaries import need

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
LNN_RULES = PROMETHEUS / "lnn-rules.yaml"
FIREBREAK_RULES = PROMETHEUS / "firebreak-rules.yaml"
RULE_FILES = {LNN_RULES: "lnn-service", FIREBREAK_RULES: "firebreak"}
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DOCS_URL = "https://firebreak.example/"

# The runbook's alert table: the names the default policy classifies by name.
RUNBOOK_ALERTS = {
    "LNNServiceDown",
    "LNNHighLatency",
    "LNNHighErrorRate",
    "LNNLowThroughput",
    "LNNHighMemory",
    "LNNHighCPU",
}


def run(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _alerts(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def _test_file(rules: Path) -> Path:
    return rules.with_name(rules.name.replace(".yaml", ".test.yaml"))


@pytest.mark.binary
@pytest.mark.parametrize("rules", list(RULE_FILES), ids=lambda p: p.name)
def test_promtool_accepts_the_rules_and_their_unit_tests_pass(rules: Path) -> None:
    promtool = need("promtool")
    assert "SUCCESS" in run(promtool, "check", "rules", str(rules))
    tests = _test_file(rules)
    assert "SUCCESS" in run(promtool, "test", "rules", tests.name, cwd=tests.parent)


@pytest.mark.binary
def test_amtool_accepts_the_alertmanager_example() -> None:
    amtool = need("amtool")
    assert "SUCCESS" in run(amtool, "check-config", str(ALERTMANAGER))


@pytest.mark.parametrize("rules", list(RULE_FILES), ids=lambda p: p.name)
def test_every_alert_carries_the_labels_and_annotations_firebreak_and_people_read(
    rules: Path,
) -> None:
    for rule in _alerts(rules):
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["labels"]["service"] == RULE_FILES[rules], name
        # namespace and deployment come from the series: the rule must not pin them.
        assert not {"namespace", "deployment"} & set(rule["labels"]), name
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name
        # Every aggregation keeps the namespace (and so the deployment it names, or the pod
        # the deployment is read from); `by (le)` alone would drop both.
        for kept in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in kept.split(",")}
            assert "namespace" in labels, f"{name}: by ({kept})"
            assert {"deployment", "pod"} & labels, f"{name}: by ({kept})"


@pytest.mark.parametrize("rules", list(RULE_FILES), ids=lambda p: p.name)
def test_the_unit_tests_show_each_alert_firing_with_its_labels_and_not_firing(
    rules: Path,
) -> None:
    cases = [
        case
        for test in yaml.safe_load(_test_file(rules).read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for name in {rule["alert"] for rule in _alerts(rules)}:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(not case.get("exp_alerts") for case in mine), f"{name}: no not-firing case"
        fired = [alert for case in mine for alert in case.get("exp_alerts") or []]
        assert fired, f"{name}: no firing case"
        for alert in fired:
            assert {"severity", "service", "namespace", "deployment"} <= set(alert["exp_labels"])
            assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("rules", list(RULE_FILES), ids=lambda p: p.name)
def test_every_runbook_url_names_a_section_of_the_docs(rules: Path) -> None:
    for rule in _alerts(rules):
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(DOCS_URL), url
        path, _, anchor = url.removeprefix(DOCS_URL).partition("#")
        doc = ROOT / path
        assert doc.is_file(), url
        assert anchor in _anchors(doc.read_text()), url


def test_every_lnn_alert_is_classified_as_the_runbook_says(policy: Policy) -> None:
    alerts = _alerts(LNN_RULES)
    assert len(alerts) == 13
    beyond_the_table = {"LNNOOMKilled", "LNNPodRestarting"}
    assert {rule["alert"] for rule in alerts} == RUNBOOK_ALERTS | beyond_the_table
    for rule in alerts:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        verdict = policy.classify_labels(labels)
        if rule["labels"]["severity"] == "warning":
            expected = Severity.P2
        elif rule["alert"] == "LNNServiceDown":
            expected = Severity.P0
        else:
            expected = Severity.P1
        assert verdict.severity is expected, rule["alert"]
        assert verdict.rule != "default", rule["alert"]
        assert policy.service_of(labels) == "lnn-service"
    # Past the runbook's table: an OOM kill is a memory incident, restarts a pods-and-deploys one.
    for name, severity, scenario in (
        ("LNNOOMKilled", "critical", "high-memory"),
        ("LNNPodRestarting", "warning", "service-down"),
    ):
        verdict = policy.classify_labels({"alertname": name, "severity": severity})
        assert verdict.scenario.id == scenario, name


def test_firebreak_alerts_get_its_own_runbook_never_the_lnn_services(policy: Policy) -> None:
    alerts = _alerts(FIREBREAK_RULES)
    assert len(alerts) == 8
    for rule in alerts:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        verdict = policy.classify_labels(labels)
        expected = Severity.P1 if rule["labels"]["severity"] == "critical" else Severity.P2
        assert verdict.severity is expected, rule["alert"]
        assert verdict.scenario.id == "firebreak-self", rule["alert"]
        assert policy.service_of(labels) == "firebreak"


def test_alertmanager_groups_as_incidents_are_scoped_and_sends_firebreak_everything() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    route = config["route"]
    assert route["receiver"] == "firebreak"
    assert route["group_by"] == ["alertname", "namespace", "deployment"]
    (receiver,) = config["receivers"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == "http://firebreak.firebreak.svc:8080/webhooks/alertmanager"
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 0
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert "credentials_file" in webhook["http_config"]["authorization"]
    # A critical mutes its own warning on the same deployment, and nothing else.
    (inhibit,) = config["inhibit_rules"]
    assert inhibit == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "namespace", "deployment"],
    }
