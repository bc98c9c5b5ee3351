"""The shipped Prometheus rules and Alertmanager receiver are valid for the real tools, and
every alert the rules can raise is classified by the default policy as the runbook says."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.incident import Severity
from bot.policy.model import Policy
from tests.support.binaries import need

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "lnn-rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "lnn-rules.test.yaml"
RECEIVER = ROOT / "deploy" / "alertmanager" / "firebreak-receiver.yaml"


def run(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.binary
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    promtool = need("promtool")
    assert "SUCCESS" in run(promtool, "check", "rules", str(RULES))
    assert "SUCCESS" in run(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)


@pytest.mark.binary
def test_amtool_accepts_the_receiver_example() -> None:
    amtool = need("amtool")
    assert "SUCCESS" in run(amtool, "check-config", str(RECEIVER))


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_every_rule_alert_is_classified_as_the_runbook_says(policy: Policy) -> None:
    alerts = _alerts()
    assert len(alerts) == 11
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
