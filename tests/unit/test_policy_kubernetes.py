"""The policy's ``kubernetes`` section, target labels and step templates as ``policy check``
reads them: valid sections load, every problem is reported at its line."""

from __future__ import annotations

import pytest

from bot.errors import PolicyError
from bot.policy.file import parse_policy
from bot.policy.kubernetes import KubernetesPolicy, TargetLabels

BASE = """\
version: 1
name: test policy
kubernetes:
  namespaces: [shop, shop-canary]
  default_namespace: shop
  selectors:
    api: app.kubernetes.io/name=api,tier=web
severities:
  P0: {name: Critical, response_minutes: 15}
  P1: {name: High, response_minutes: 60}
  P2: {name: Low, response_minutes: 240}
scenarios:
  down:
    title: Down
    target_labels:
      deployment: [app, deployment]
    triage:
      - "Pods: `kubectl get pods -n {namespace} -l {selector}`"
      - "Literal braces: `curl -d '{{\\"a\\": 1}}'`"
    actions:
      - verb: scale
        deployment: api
        namespace: shop
        replicas: 5
        bounds: {min: 3, max: 10}
      - {verb: restart}
rules:
  - name: down
    match: ['alertname="Down"']
    severity: P0
    scenario: down
default:
  severity: P2
  scenario: down
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as error:
        parse_policy(text)
    return error.value.problems


def line_of(text: str, needle: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def test_the_section_target_labels_and_optional_targets_load() -> None:
    policy = parse_policy(BASE)
    assert policy.kubernetes == KubernetesPolicy(
        ("shop", "shop-canary"), "shop", {"api": "app.kubernetes.io/name=api,tier=web"}
    )
    scenario = policy.scenarios["down"]
    assert scenario.target_labels == TargetLabels(("namespace",), ("app", "deployment"))
    restart = scenario.actions[1]
    assert (restart.deployment, restart.namespace) == (None, None)


def test_without_the_section_the_actions_namespaces_are_the_allow_list() -> None:
    text = BASE.replace(BASE[BASE.index("kubernetes:") : BASE.index("severities:")], "")
    policy = parse_policy(text)
    assert policy.kubernetes == KubernetesPolicy(("shop",), "shop")


def test_the_default_namespace_defaults_to_the_first() -> None:
    policy = parse_policy(BASE.replace("  default_namespace: shop\n", ""))
    assert policy.kubernetes.default_namespace == "shop"


@pytest.mark.parametrize(
    ("old", "new", "needle", "where", "fragment"),
    [
        (
            "[shop, shop-canary]",
            "[shop, kube-system]",
            "namespaces:",
            "kubernetes.namespaces",
            "never allowed",
        ),
        (
            "[shop, shop-canary]",
            "[shop, Shop_2]",
            "namespaces:",
            "kubernetes.namespaces",
            "DNS-1123",
        ),
        ("[shop, shop-canary]", "[shop, shop]", "namespaces:", "kubernetes.namespaces", "twice"),
        ("[shop, shop-canary]", "[]", "namespaces:", "kubernetes.namespaces", "at least 1"),
        (
            "default_namespace: shop",
            "default_namespace: web",
            "default_namespace",
            "kubernetes.default_namespace",
            "not one of namespaces",
        ),
        ("tier=web", "tier=web x", "api: app", "kubernetes.selectors.api", "is not key=value"),
        ("tier=web", "tier!=web", "api: app", "kubernetes.selectors.api", "is not key=value"),
        ("tier=web", "tier=$(id)", "api: app", "kubernetes.selectors.api", "is not key=value"),
        (
            "deployment: [app, deployment]",
            "deployment: [app-name]",
            "deployment: [app",
            "scenarios.down.target_labels.deployment",
            "not a label name",
        ),
        ("-l {selector}`", "-l {selector`", "Pods:", "scenarios.down.triage.0", "unbalanced"),
        (
            "-l {selector}`",
            "-l {the selector}`",
            "Pods:",
            "scenarios.down.triage.0",
            "not a placeholder",
        ),
        (
            "'{{\\\"a\\\": 1}}'",
            "'{\\\"a\\\": 1}'",
            "Literal",
            "scenarios.down.triage.1",
            "not a placeholder",
        ),
        (
            "        namespace: shop\n",
            "        namespace: staging\n",
            "namespace: staging",
            "scenarios.down.actions.0.namespace",
            "not in kubernetes.namespaces (shop, shop-canary)",
        ),
    ],
)
def test_problems_are_reported_at_their_line(
    old: str, new: str, needle: str, where: str, fragment: str
) -> None:
    assert BASE.count(old) == 1, old
    text = BASE.replace(old, new)
    found = problems(text)
    prefix = f"line {line_of(text, needle)}: {where}: "
    assert any(p.startswith(prefix) and fragment in p for p in found), found
