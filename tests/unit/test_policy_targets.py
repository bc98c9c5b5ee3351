"""Targets resolved from the incident's alerts, and triage steps filled as templates: what
the card shows, its buttons request and ``/incident`` commands act on come from one rule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.incident import AlertEpisode, AlertStatus, Severity
from bot.integrations.slack.card import CardView, render_card
from bot.policy.kubernetes import KubernetesPolicy, TargetLabels
from bot.policy.model import ActionBounds, Scenario, SuggestedAction
from bot.policy.targets import Resolved, resolve_target, scenario_target, template_values
from bot.policy.templates import fill, placeholders
from tests.support.incidents import T0, incident

K8S = KubernetesPolicy(("firebreak", "prod"), "firebreak", {"lnn-service": "app=lnn"})
SCALE = SuggestedAction(
    verb="scale", deployment="lnn-service", namespace="firebreak", bounds=ActionBounds(3, 10)
)
GENERIC = SuggestedAction(verb="restart")
SCENARIO = Scenario(
    id="s",
    title="Latency",
    triage=("Pods: `kubectl get pods -n {namespace} -l {selector}`", "On `{instance}`"),
    actions=(SCALE, GENERIC),
)


def test_alert_labels_win_over_the_policy() -> None:
    labels = [{"namespace": "prod", "deployment": "api"}]
    assert resolve_target(K8S, SCENARIO, SCALE, labels) == Resolved("prod", "api")


def test_the_policy_and_then_the_default_namespace_are_fallbacks() -> None:
    assert resolve_target(K8S, SCENARIO, SCALE, []) == Resolved("firebreak", "lnn-service")
    in_shop = SuggestedAction(verb="restart", deployment="x", namespace="shop")
    assert resolve_target(K8S, SCENARIO, in_shop, [{}]) == Resolved("shop", "x")
    # Nothing names a deployment for a generic action: the request says so.
    assert resolve_target(K8S, SCENARIO, GENERIC, [{}]) == Resolved("firebreak", None)
    # A typed command (no action) takes the incident's namespace, else the default.
    assert resolve_target(K8S, SCENARIO, None, [{"namespace": "prod"}]).namespace == "prod"
    assert resolve_target(K8S, None, None, []).namespace == "firebreak"


def test_a_scenario_may_name_other_labels_first_present_wins() -> None:
    named = Scenario(id="s", title="t", target_labels=TargetLabels(("ns",), ("app", "deployment")))
    both = [{"app": "web", "deployment": "api", "ns": "prod", "namespace": "other"}]
    assert resolve_target(K8S, named, GENERIC, both) == Resolved("prod", "web")
    assert resolve_target(K8S, named, GENERIC, [{"deployment": "api"}]).deployment == "api"


def test_disagreeing_alerts_the_first_wins_and_the_note_says_so() -> None:
    labels = [{"namespace": "prod"}, {"namespace": "firebreak"}, {"namespace": "prod"}]
    resolved = resolve_target(K8S, SCENARIO, SCALE, labels)
    assert resolved.namespace == "prod"
    assert resolved.note == (
        "the alerts name 2 namespaces (prod, firebreak): using prod, the first alert's"
    )


def test_an_invalid_label_is_kept_so_the_request_is_refused_not_redirected() -> None:
    resolved = resolve_target(K8S, SCENARIO, SCALE, [{"namespace": "Prod!"}])
    assert resolved.namespace == "Prod!"
    assert "namespace" not in template_values(K8S, resolved, {"namespace": "Prod!"})


def test_templates_fill_safe_values_and_leave_the_rest_visible() -> None:
    resolved = Resolved("prod", "lnn-service")
    labels = {
        "instance": "pod-1:8090",
        "evil": "x; rm -rf /",
        "quote": "a'b",
        "pod": "$(id)",
        "option": "--server=https://evil",
        "long": "a" * 129,
    }
    values = template_values(K8S, resolved, labels)
    assert values == {
        "instance": "pod-1:8090",
        "namespace": "prod",
        "deployment": "lnn-service",
        "selector": "app=lnn",
    }
    text = "-n {namespace} -l {selector} {instance} {evil} {quote} {pod} {option} {long}"
    assert fill(text, values) == (
        "-n prod -l app=lnn pod-1:8090 {evil} {quote} {pod} {option} {long}"
    )
    assert fill("{{literal}} {unknown}", values) == "{literal} {unknown}"


def test_the_target_wins_over_a_label_of_the_same_name() -> None:
    values = template_values(K8S, Resolved("prod", "api"), {"selector": "x=y", "deployment": "z"})
    assert values == {"namespace": "prod", "deployment": "api"}  # no selector for api


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{namespace", "unbalanced"),
        ("namespace}", "unbalanced"),
        ("{a b}", "not a placeholder"),
        ('{"a": 1}', "not a placeholder"),
        ("{}", "not a placeholder"),
    ],
)
def test_malformed_templates_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        placeholders(text)


def test_scenario_target_follows_its_first_named_action() -> None:
    generic_first = Scenario(id="s", title="t", actions=(GENERIC, SCALE))
    assert scenario_target(K8S, generic_first, []) == Resolved("firebreak", "lnn-service")


def episode(n: int, **labels: str) -> AlertEpisode:
    return AlertEpisode(
        id=n,
        incident_id=42,
        fingerprint=f"fp{n}",
        status=AlertStatus.FIRING,
        severity=Severity.P1,
        labels={"alertname": "LNNHighLatency", **labels},
        annotations={},
        starts_at=T0 + timedelta(seconds=n),
        ends_at=None,
        generator_url="",
    )


def card_text(*alerts: AlertEpisode) -> str:
    view = CardView(incident(), alerts, SCENARIO, None, T0, kubernetes=K8S)
    return json.dumps(render_card(view).blocks)


def test_the_card_fills_triage_from_the_first_alert_and_shows_the_target() -> None:
    text = card_text(episode(1, namespace="prod", instance="pod-1"), episode(2, namespace="prod"))
    assert "kubectl get pods -n prod -l app=lnn" in text
    assert "On `pod-1`" in text
    assert "On `prod/deploy/lnn-service`, `prod/deploy/?`" in text


def test_the_card_never_pastes_an_unsafe_value() -> None:
    text = card_text(episode(1, namespace="prod;reboot", instance="$(curl evil)"))
    assert "kubectl get pods -n {namespace} -l app=lnn" in text
    assert "On `{instance}`" in text
    assert "$(curl" not in text.split("Firing alerts")[1].split("Triage")[1]


def test_the_card_says_which_alert_decided_when_they_disagree() -> None:
    text = card_text(episode(1, namespace="prod"), episode(2, namespace="firebreak"))
    assert "the alerts name 2 namespaces (prod, firebreak): using prod" in text
