"""Every layer agrees on what a valid target is: the policy loader, the Slack ``/incident``
path (its parser checks the names' shape, the request it makes refuses system namespaces
with the allow-list), the request use case and the actuator's guard accept and refuse the
same table of namespaces and deployment names, given a policy that allows the namespace. A
layer growing its own rule makes this fail."""

from __future__ import annotations

import dataclasses
import json

import pytest

from actions.targets import check_target as actuator_check
from bot.clock import FixedClock
from bot.domain.target import Target
from bot.errors import BadRequest, Forbidden, PolicyError, UsageError
from bot.policy.file import parse_policy
from bot.policy.kubernetes import KubernetesPolicy
from bot.policy.model import Policy
from handlers.slack.command.commands import Scale
from handlers.slack.command.parse import parse_command
from tests.fakes.memory.cluster import MemoryCluster
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import Env, with_action_options

OK = "production"
LONGEST_LABEL = "a" * 63
# Three labels of 63 and one of 61: 253 characters, the longest subdomain.
LONGEST_NAME = ".".join(["a" * 63] * 3 + ["b" * 61])

# (namespace, deployment name, valid?)
TABLE: list[tuple[str, str, bool]] = [
    (OK, "lnn-service", True),
    (OK, "a", True),
    ("0", "9", True),
    (LONGEST_LABEL, "lnn", True),
    (OK, LONGEST_LABEL, True),
    (OK, LONGEST_NAME, True),
    (OK, "lnn.service-v2", True),
    (OK, "a" * 64, False),  # one label longer than 63
    (OK, LONGEST_NAME + "b", False),  # 254 characters
    ("a" * 64, "lnn", False),
    ("Production", "lnn", False),
    (OK, "LNN", False),
    (OK, "lnn_service", False),
    (OK, "-lnn", False),
    (OK, "lnn-", False),
    ("-prod", "lnn", False),
    ("prod-", "lnn", False),
    ("prod.eu", "lnn", False),  # a namespace is a label: no dots
    (OK, "lnn..service", False),
    (OK, ".lnn", False),
    (OK, "lnn.", False),
    (OK, "lnn/x", False),
    ("", "lnn", False),
    (OK, "", False),
    ("prød", "lnn", False),
    (OK, "lnn-sérvice", False),
    (OK, "ｌｎｎ", False),  # fullwidth letters
    (OK, "lnn\u200b", False),  # zero-width space
    ("kube-system", "coredns", False),
    ("kube-public", "lnn", False),
    ("kube-node-lease", "lnn", False),
    ("kube-anything", "lnn", False),
    ("kubernetes", "lnn", True),  # only the kube- prefix is reserved
    ("kube", "lnn", True),
]
assert len(LONGEST_NAME) == 253
IDS = [f"{ns[:12] or '∅'}/{name[:12] or '∅'}" for ns, name, _ in TABLE]


def policy_accepts(namespace: str, name: str) -> bool:
    # JSON strings are YAML strings: quoting keeps "0" a string and escapes the rest.
    text = f"""\
version: 1
name: parity
kubernetes:
  namespaces: [{json.dumps(namespace)}]
severities:
  P0: {{name: Critical, response_minutes: 15}}
  P1: {{name: High, response_minutes: 60}}
  P2: {{name: Low, response_minutes: 240}}
scenarios:
  down:
    title: Down
    actions:
      - verb: scale
        deployment: {json.dumps(name)}
        namespace: {json.dumps(namespace)}
        replicas: 5
        bounds: {{min: 3, max: 10}}
rules:
  - name: down
    match: ['alertname="Down"']
    severity: P0
    scenario: down
default:
  severity: P2
  scenario: down
"""
    try:
        parse_policy(text)
    except PolicyError:
        return False
    return True


async def slack_accepts(env: Env, namespace: str, name: str) -> bool:
    # Quoted words reach the parser verbatim (spaces and all).
    try:
        command = parse_command(
            f"scale {json.dumps('deploy/' + name)} 5 -n {json.dumps(namespace)}"
        )
    except UsageError:
        return False
    assert command == Scale(name, 5, namespace=namespace)
    assert command.namespace is not None
    return await use_case_accepts(env, command.namespace, command.deployment)


async def use_case_accepts(env: Env, namespace: str, name: str) -> bool:
    incident = await env.incident()
    try:
        result = await env.request(incident, "scale", namespace=namespace, deployment=name)
    except (BadRequest, Forbidden):
        return False
    assert result.created
    assert result.action.target == Target(namespace, name)
    return True


def actuator_accepts(namespace: str, name: str) -> bool:
    try:
        actuator_check(Target(namespace, name))
    except (BadRequest, Forbidden):
        return False
    return True


@pytest.mark.parametrize(("namespace", "name", "valid"), TABLE, ids=IDS)
async def test_every_layer_agrees_on_a_target(
    namespace: str, name: str, valid: bool, policy: Policy, clock: FixedClock
) -> None:
    # The policy the use case reads names this very target (a policy file could not, for an
    # invalid one), so only the target rule can refuse it there.
    named = with_action_options(policy, "scale", namespace=namespace, deployment=name)
    allowing = dataclasses.replace(named, kubernetes=KubernetesPolicy((namespace,), namespace))

    def env() -> Env:
        return Env(MemoryStore(), MemoryCluster(), clock, allowing)

    verdicts = {
        "policy": policy_accepts(namespace, name),
        "slack": await slack_accepts(env(), namespace, name),
        "use case": await use_case_accepts(env(), namespace, name),
        "actuator": actuator_accepts(namespace, name),
    }
    assert verdicts == dict.fromkeys(verdicts, valid)
