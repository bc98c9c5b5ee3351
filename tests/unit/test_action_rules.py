"""Validation of targets and arguments against the policy, and who may approve."""

from __future__ import annotations

import dataclasses

import pytest

from bot.domain.action import ActionVerb
from bot.domain.actor import Actor
from bot.domain.incident import Severity
from bot.domain.target import Target, is_dns1123_subdomain
from bot.errors import BadRequest, Forbidden
from bot.integrations.slack.directory import SlackDirectory
from bot.policy.model import ActionBounds, Policy, Scenario, SuggestedAction
from bot.services.remediation.rules import (
    check_arguments,
    may_approve,
    required_approvals,
    rules_for,
)
from handlers.slack.actor import slack_actor
from tests.fakes.slack.directory import FakeDirectory
from tests.support.actions import ALICE, BOB, CAROL, ONCALL, with_action_options

LNN = Target("firebreak", "lnn-service")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("Production", "lnn-service"),
        ("firebreak", "LNN"),
        ("-prod", "lnn"),
        ("prod-", "lnn"),
        ("prod", "lnn_service"),
        ("prod", ""),
        ("a" * 64, "lnn"),
        ("prod", "a" * 254),
        ("prod", "lnn..service"),
        ("prod", "lnn/../x"),
    ],
)
def test_names_must_be_dns_1123(namespace: str, name: str) -> None:
    with pytest.raises(BadRequest):
        Target.checked(namespace, name)


def test_dotted_deployment_names_are_subdomains() -> None:
    assert is_dns1123_subdomain("lnn.service-v2")
    assert Target.checked("a" * 63, "x") == Target("a" * 63, "x")


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_system_namespaces_are_never_targets(namespace: str, policy: Policy) -> None:
    with pytest.raises(Forbidden, match="never"):
        Target.checked(namespace, "coredns")
    with pytest.raises(Forbidden, match=r"never.*allows: firebreak"):
        rules_for(policy, ActionVerb.SCALE, Target(namespace, "lnn-service"))


def test_only_namespaces_the_policy_allows(policy: Policy) -> None:
    assert rules_for(policy, ActionVerb.RESTART, LNN).target == LNN
    with pytest.raises(Forbidden, match=r"allows \(firebreak\), not in staging"):
        rules_for(policy, ActionVerb.RESTART, Target("staging", "lnn-service"))
    with pytest.raises(Forbidden, match=r"allows \(firebreak\), not in prod"):
        rules_for(policy, ActionVerb.DIAGNOSE, Target("prod", "lnn-service"))
    assert rules_for(policy, ActionVerb.DIAGNOSE, LNN).verb is ActionVerb.DIAGNOSE


def test_a_verb_must_be_suggested_somewhere(policy: Policy) -> None:
    no_scale = dataclasses.replace(
        policy,
        scenarios={
            key: dataclasses.replace(s, actions=tuple(a for a in s.actions if a.verb != "scale"))
            for key, s in policy.scenarios.items()
        },
    )
    with pytest.raises(Forbidden, match="suggests no scale"):
        rules_for(no_scale, ActionVerb.SCALE, LNN)
    # A rollback suggested by "service down" is allowed whatever scenario asks.
    assert rules_for(policy, ActionVerb.ROLLBACK, LNN).approvals_required == 1


def test_limits_come_from_the_suggestions_that_apply_to_the_deployment(policy: Policy) -> None:
    def scale(deployment: str | None, low: int, high: int) -> SuggestedAction:
        return SuggestedAction(verb="scale", deployment=deployment, bounds=ActionBounds(low, high))

    only = Scenario(id="s", title="s", actions=(scale("api", 2, 4), scale(None, 3, 9)))
    named = dataclasses.replace(policy, scenarios={"s": only})
    api = rules_for(named, ActionVerb.SCALE, Target("firebreak", "api"))
    assert (api.min_replicas, api.max_replicas) == (3, 4)  # "api"'s and the generic one
    web = rules_for(named, ActionVerb.SCALE, Target("firebreak", "web"))
    assert (web.min_replicas, web.max_replicas) == (3, 9)  # the generic one only
    narrow = dataclasses.replace(
        policy, scenarios={"s": Scenario(id="s", title="s", actions=(scale("api", 2, 4),))}
    )
    # None names "web" and none is generic: "web" may not be scaled at all.
    with pytest.raises(Forbidden, match="suggests scale only on api, not on web"):
        rules_for(narrow, ActionVerb.SCALE, Target("firebreak", "web"))


@pytest.mark.parametrize("verb", [ActionVerb.SCALE, ActionVerb.ROLLBACK, ActionVerb.RESTART])
def test_a_mutating_verb_only_on_deployments_the_policy_names(
    policy: Policy, verb: ActionVerb
) -> None:
    # The default policy names lnn-service on every action; firebreak only gets a diagnose.
    with pytest.raises(Forbidden, match=f"suggests {verb.value} only on lnn-service"):
        rules_for(policy, verb, Target("firebreak", "firebreak"))
    assert rules_for(policy, ActionVerb.DIAGNOSE, Target("firebreak", "firebreak")).target == (
        Target("firebreak", "firebreak")
    )


def test_scale_replicas_stay_within_the_seed_bounds(policy: Policy) -> None:
    rules = rules_for(policy, ActionVerb.SCALE, LNN)
    assert (rules.min_replicas, rules.max_replicas, rules.default_replicas) == (3, 10, 6)
    assert check_arguments(rules) == (6, None)
    assert check_arguments(rules, replicas=3) == (3, None)
    assert check_arguments(rules, replicas=10) == (10, None)
    for bad in (2, 11, 0, -1, 1000):
        with pytest.raises(Forbidden, match="outside the policy's bounds"):
            check_arguments(rules, replicas=bad)
    for malformed in (True, 6.0, "6", [6]):
        with pytest.raises(BadRequest, match="whole number"):
            check_arguments(rules, replicas=malformed)


def test_arguments_belong_to_their_verb(policy: Policy) -> None:
    rollback = rules_for(policy, ActionVerb.ROLLBACK, LNN)
    assert check_arguments(rollback) == (None, None)
    assert check_arguments(rollback, to_revision=4) == (None, 4)
    for bad in (0, -3, True, "2"):
        with pytest.raises(BadRequest, match="positive"):
            check_arguments(rollback, to_revision=bad)
    with pytest.raises(BadRequest, match="no replica count"):
        check_arguments(rollback, replicas=4)
    restart = rules_for(policy, ActionVerb.RESTART, LNN)
    with pytest.raises(BadRequest, match="no revision"):
        check_arguments(restart, to_revision=2)


def test_several_suggestions_combine_strictly(policy: Policy) -> None:
    narrowed = SuggestedAction(
        verb="scale",
        deployment="lnn-service",
        namespace="firebreak",
        replicas=5,
        bounds=ActionBounds(4, 8),
        approvers=(ALICE,),
        approvals_required=2,
    )
    scenarios = {**policy.scenarios, "extra": Scenario(id="extra", title="x", actions=(narrowed,))}
    rules = rules_for(dataclasses.replace(policy, scenarios=scenarios), ActionVerb.SCALE, LNN)
    assert (rules.min_replicas, rules.max_replicas) == (4, 8)
    assert rules.approvals_required == 2
    assert rules.approver_lists == ((ALICE,),)


def test_rollback_on_p0_needs_two_approvers(policy: Policy) -> None:
    rollback = rules_for(policy, ActionVerb.ROLLBACK, LNN)
    restart = rules_for(policy, ActionVerb.RESTART, LNN)
    assert required_approvals(rollback, Severity.P0) == 2
    assert required_approvals(rollback, Severity.P1) == 1
    assert required_approvals(restart, Severity.P0) == 1
    strict = rules_for(
        with_action_options(policy, "restart", approvals_required=3), ActionVerb.RESTART, LNN
    )
    assert required_approvals(strict, Severity.P2) == 3


async def test_deny_by_default_and_groups_resolve_through_the_directory(policy: Policy) -> None:
    rules = rules_for(policy, ActionVerb.SCALE, LNN)
    directory = FakeDirectory()
    assert not await may_approve(
        slack_actor(ALICE), approvers=(), rules=rules, directory=SlackDirectory(directory)
    )
    assert await may_approve(
        slack_actor(ALICE), approvers=(ALICE,), rules=rules, directory=SlackDirectory(directory)
    )
    assert not await may_approve(
        slack_actor(BOB), approvers=(ALICE,), rules=rules, directory=SlackDirectory(directory)
    )
    assert await may_approve(
        slack_actor(CAROL), approvers=(ONCALL,), rules=rules, directory=SlackDirectory(directory)
    )
    assert directory.lookups == 1
    bot = Actor("bot", "firebreak")
    assert not await may_approve(
        bot, approvers=("firebreak",), rules=rules, directory=SlackDirectory(directory)
    )


async def test_the_policy_narrows_the_configured_approvers(policy: Policy) -> None:
    narrowed = with_action_options(policy, "scale", approvers=(ONCALL,))
    rules = rules_for(narrowed, ActionVerb.SCALE, LNN)
    directory = FakeDirectory()
    approvers = (ALICE, CAROL)
    assert await may_approve(
        slack_actor(CAROL), approvers=approvers, rules=rules, directory=SlackDirectory(directory)
    )
    assert not await may_approve(
        slack_actor(ALICE), approvers=approvers, rules=rules, directory=SlackDirectory(directory)
    )
    # Listed by the policy but not configured: still no.
    directory.groups[ONCALL] = frozenset({CAROL, BOB})
    assert not await may_approve(
        slack_actor(BOB), approvers=approvers, rules=rules, directory=SlackDirectory(directory)
    )


def test_a_restore_may_go_below_the_policy_minimum_but_not_above_its_maximum(
    policy: Policy,
) -> None:
    rules = rules_for(policy, ActionVerb.SCALE, LNN)
    assert check_arguments(rules, replicas=2, restoring=True) == (2, None)
    with pytest.raises(Forbidden, match="outside the policy's bounds"):
        check_arguments(rules, replicas=2)
    with pytest.raises(Forbidden, match=r"outside the policy's bounds .*\(3 to 10\)"):
        check_arguments(rules, replicas=11, restoring=True)
