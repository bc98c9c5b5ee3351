"""Requesting, approving, denying and expiring actions, on the in-memory store."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionState, ActionVerb
from bot.domain.actor import BOT, Actor
from bot.domain.incident import Severity
from bot.domain.target import Target
from bot.errors import BadRequest, Conflict, Forbidden, NotFound
from bot.policy.model import Policy
from bot.services.remediation.approve import restart_stamp
from bot.services.remediation.expire import expire_actions
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import MemoryCluster
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import (
    ALICE,
    BOB,
    CAROL,
    DEPLOYMENT,
    LNN,
    MALLORY,
    NAMESPACE,
    ONCALL,
    TTL,
    Env,
    with_action_options,
)


@pytest.fixture
def env(clock: FixedClock, policy: Policy) -> Env:
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    return Env(MemoryStore(), cluster, clock, policy)


async def test_a_request_is_recorded_with_its_requester(env: Env) -> None:
    incident = await env.incident()
    result = await env.request(incident, "scale", replicas=6)
    action = result.action
    assert result.created
    assert (action.state, action.verb, action.target, action.replicas) == (
        ActionState.REQUESTED,
        ActionVerb.SCALE,
        LNN,
        6,
    )
    assert action.requested_by == slack_actor(MALLORY)
    assert (action.expires_at - env.clock.now()).total_seconds() == TTL
    entries = await env.timeline(incident)
    assert entries[-1].kind == "action.requested"
    assert entries[-1].actor == slack_actor(MALLORY)
    assert entries[-1].body["action"] == "scale firebreak/deploy/lnn-service to 6"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"namespace": "kube-system"}, Forbidden, r"never.*allows: firebreak"),
        ({"namespace": "prod"}, Forbidden, r"allows \(firebreak\), not in prod"),
        ({"namespace": "Prod"}, BadRequest, "DNS-1123"),
        ({"replicas": 11}, Forbidden, "bounds"),
        ({"replicas": 2}, Forbidden, "bounds"),
        ({"replicas": "6"}, BadRequest, "whole number"),
    ],
)
async def test_invalid_requests_store_no_action_only_their_refusal(
    env: Env, kwargs: dict[str, Any], error: type[Exception], text: str
) -> None:
    incident = await env.incident()
    with pytest.raises(error, match=text) as refused:
        await env.request(incident, "scale", **kwargs)
    async with env.store.transaction() as uow:
        assert await uow.actions.for_incident(incident) == []
    assert await env.kinds(incident) == ["action.request_refused"]
    entry = (await env.timeline(incident))[-1]
    assert entry.actor == slack_actor(MALLORY)
    asked = f"{kwargs.get('namespace', NAMESPACE)}/deploy/{DEPLOYMENT}"
    assert (entry.body["verb"], entry.body["target"]) == ("scale", asked)
    assert entry.body["reason"] == str(refused.value)
    assert env.cluster.calls == []


async def test_diagnose_and_unknown_verbs_are_not_requests(env: Env) -> None:
    incident = await env.incident()
    with pytest.raises(BadRequest, match="read-only"):
        await env.request(incident, "diagnose")
    with pytest.raises(BadRequest, match="unknown action"):
        await env.request(incident, "delete")
    with pytest.raises(NotFound):
        await env.request(999, "restart")


async def test_resolved_incidents_take_no_requests(env: Env) -> None:
    incident = await env.incident(resolved=True)
    with pytest.raises(Conflict, match="resolved"):
        await env.request(incident, "restart")


async def test_a_storm_of_incidents_yields_one_request(env: Env) -> None:
    incidents = [await env.incident(key=f"g{i}") for i in range(5)]
    results = [await env.request(i, "scale", by=f"U{i}") for i in incidents]
    assert [r.created for r in results] == [True, False, False, False, False]
    assert len({r.action.id for r in results}) == 1
    assert await env.kinds(incidents[0]) == ["action.requested"]
    for other in incidents[1:]:
        entries = await env.timeline(other)
        assert entries[-1].kind == "action.joined"
        assert entries[-1].body["owner_incident"] == incidents[0]
    # Another verb on the same target is a separate request.
    assert (await env.request(incidents[1], "restart")).created


async def test_a_p0_joining_raises_the_bar_for_a_rollback(env: Env) -> None:
    p1 = await env.incident(Severity.P1, key="p1")
    p0 = await env.incident(Severity.P0, key="p0")
    first = await env.request(p1, "rollback")
    assert first.action.approvals_required == 1
    joined = await env.request(p0, "rollback")
    assert (joined.created, joined.action.approvals_required) == (False, 2)


async def test_one_approver_approves_and_the_snapshot_is_recorded(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    result = await env.approve(action.id, ALICE)
    assert (result.changed, result.ready) == (True, True)
    approved = result.action
    assert approved.state is ActionState.APPROVED
    assert approved.approved_by == (slack_actor(ALICE),)
    assert approved.snapshot == env.cluster.get(LNN).snapshot()
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.approved", slack_actor(ALICE))
    assert entry.body["snapshot"]["resource_version"] == approved.snapshot.resource_version
    assert env.cluster.applied == []


async def test_restart_fixes_its_stamp_at_approval(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    approved = (await env.approve(action.id)).action
    assert approved.restarted_at == restart_stamp(env.clock.now())
    assert approved.restarted_at.endswith("Z")


async def test_rollback_resolves_its_revision_at_approval(env: Env) -> None:
    incident = await env.incident()
    missing = (await env.request(incident, "rollback", to_revision=7)).action
    with pytest.raises(Conflict, match="no revision 7"):
        await env.approve(missing.id)
    assert (await env.action(missing.id)).state is ActionState.REQUESTED
    await env.deny(missing.id, ALICE)
    action = (await env.request(incident, "rollback")).action
    assert (await env.approve(action.id)).action.rollback_revision == 1


async def test_rollback_needs_an_earlier_revision(env: Env) -> None:
    env.cluster.add("firebreak", "lnn-service", images=("only",))
    incident = await env.incident()
    action = (await env.request(incident, "rollback")).action
    with pytest.raises(Conflict, match="no earlier revision"):
        await env.approve(action.id)
    # The failed approval is on the timeline; the request stays open.
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.refused", slack_actor(ALICE))
    assert entry.body["attempted"] == "approve"
    assert "the approval failed" in entry.body["reason"]
    assert "no earlier revision" in entry.body["reason"]
    assert (await env.action(action.id)).state is ActionState.REQUESTED


async def test_an_approval_on_a_missing_deployment_fails_on_the_timeline(env: Env) -> None:
    # A scale the policy suggests on any deployment, so "gone" is refused by the cluster.
    env.policy = with_action_options(env.policy, "scale", deployment=None)
    incident = await env.incident()
    action = (await env.request(incident, "scale", deployment="gone")).action
    with pytest.raises(NotFound):
        await env.approve(action.id)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.refused", slack_actor(ALICE))
    assert entry.body["target"] == "firebreak/deploy/gone"
    assert "the approval failed" in entry.body["reason"]
    assert (await env.action(action.id)).state is ActionState.REQUESTED


async def test_a_click_on_a_closed_request_is_recorded(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    await env.deny(action.id, CAROL)
    with pytest.raises(Conflict, match="denied"):
        await env.approve(action.id, BOB)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor, entry.body["attempted"]) == (
        "action.refused",
        slack_actor(BOB),
        "approve",
    )


@pytest.mark.parametrize("approvers", [(), (BOB,)])
async def test_unauthorized_click_is_refused_and_recorded(
    env: Env, approvers: tuple[str, ...]
) -> None:
    env.approvers = approvers
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    with pytest.raises(Forbidden, match="not an approver"):
        await env.approve(action.id, ALICE)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.refused", slack_actor(ALICE))
    assert entry.body["attempted"] == "approve"
    assert (await env.action(action.id)).state is ActionState.REQUESTED
    assert env.cluster.calls == []


async def test_nobody_approves_their_own_request(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", by=ALICE)).action
    with pytest.raises(Forbidden, match="someone else must approve"):
        await env.approve(action.id, ALICE)
    assert (await env.timeline(incident))[-1].kind == "action.refused"
    assert (await env.approve(action.id, BOB)).ready


async def test_a_display_name_makes_nobody_someone_else(env: Env) -> None:
    # The request is stored without display names; clicks may carry one. Identity is the
    # Slack user, so the requester stays the requester and a second click stays a repeat.
    incident = await env.incident(Severity.P0)
    action = (await env.request(incident, "rollback", by=ALICE)).action
    with pytest.raises(Forbidden, match="someone else must approve"):
        await env.approve(action.id, slack_actor(ALICE, "Alice A."))
    first = await env.approve(action.id, slack_actor(BOB, "Bob"))
    again = await env.approve(action.id, slack_actor(BOB, "Robert"))
    assert (first.changed, again.changed, again.ready) == (True, False, False)
    assert (await env.action(action.id)).approved_by == (slack_actor(BOB),)


async def test_another_source_with_the_requesters_id_is_not_the_requester(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", by=ALICE)).action
    # Not "someone else must approve": it is a different actor, refused as a non-approver.
    with pytest.raises(Forbidden, match="not an approver"):
        await env.approve(action.id, Actor("system", ALICE))


async def test_the_bot_cannot_approve(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    with pytest.raises(Forbidden):
        await env.approve(action.id, BOT)


async def test_group_members_approve_through_the_directory(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    assert (await env.approve(action.id, CAROL)).ready
    assert env.directory.lookups >= 1


async def test_policy_approvers_narrow_the_settings(env: Env) -> None:
    env.policy = with_action_options(env.policy, "restart", approvers=(ONCALL,))
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    with pytest.raises(Forbidden):
        await env.approve(action.id, ALICE)
    assert (await env.approve(action.id, CAROL)).ready


async def test_a_p0_rollback_needs_two_distinct_approvers(env: Env) -> None:
    incident = await env.incident(Severity.P0)
    action = (await env.request(incident, "rollback")).action
    assert action.approvals_required == 2
    first = await env.approve(action.id, ALICE)
    assert (first.changed, first.ready, first.action.state) == (True, False, ActionState.REQUESTED)
    assert first.action.snapshot is None
    again = await env.approve(action.id, ALICE)
    assert (again.changed, again.ready) == (False, False)
    assert "1 more approver" in again.message
    second = await env.approve(action.id, BOB)
    assert (second.ready, second.action.state) == (True, ActionState.APPROVED)
    assert second.action.approved_by == (slack_actor(ALICE), slack_actor(BOB))
    assert await env.kinds(incident) == ["action.requested", "action.approval", "action.approved"]


async def test_a_severity_raised_after_the_request_raises_the_bar(env: Env) -> None:
    incident = await env.incident(Severity.P1)
    action = (await env.request(incident, "rollback")).action
    async with env.store.transaction() as uow:
        current = await uow.incidents.get(incident)
        assert current is not None
        await uow.incidents.save(dataclasses.replace(current, severity=Severity.P0))
    assert not (await env.approve(action.id, ALICE)).ready
    assert (await env.approve(action.id, BOB)).ready


async def test_policy_may_demand_more_approvals(env: Env) -> None:
    env.policy = with_action_options(env.policy, "scale", approvals_required=3)
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    assert not (await env.approve(action.id, ALICE)).ready
    assert not (await env.approve(action.id, BOB)).ready
    assert (await env.approve(action.id, CAROL)).ready


async def test_a_lapsed_request_cannot_be_approved(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    env.clock.advance(TTL)
    with pytest.raises(Conflict, match="expired"):
        await env.approve(action.id, ALICE)
    stored = await env.action(action.id)
    assert stored.state is ActionState.EXPIRED
    assert (await env.timeline(incident))[-1].actor == BOT
    assert env.cluster.calls == []
    with pytest.raises(Conflict, match="expired"):
        await env.approve(action.id, BOB)


async def test_a_lapsed_request_does_not_swallow_a_new_one(env: Env) -> None:
    incident = await env.incident()
    old = (await env.request(incident, "scale")).action
    env.clock.advance(TTL + 1)
    new = await env.request(incident, "scale")
    assert new.created
    assert new.action.id != old.id
    assert (await env.action(old.id)).state is ActionState.EXPIRED


async def test_expire_sweeps_requests_and_unused_approvals(env: Env) -> None:
    incident = await env.incident()
    waiting = (await env.request(incident, "scale")).action
    env.clock.advance(TTL / 2)
    approved = (await env.request(incident, "restart")).action
    await env.approve(approved.id)
    assert await expire_actions(env.ctx) == []
    env.clock.advance(TTL / 2)
    assert [a.id for a in await expire_actions(env.ctx)] == [waiting.id]
    env.clock.advance(TTL / 2)
    swept = await expire_actions(env.ctx)
    assert [(a.id, a.state) for a in swept] == [(approved.id, ActionState.EXPIRED)]
    assert await expire_actions(env.ctx) == []


async def test_approvers_and_the_requester_may_deny(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    with pytest.raises(Forbidden):
        await env.deny(action.id, "U0STRANGER")
    assert (await env.timeline(incident))[-1].body["attempted"] == "deny"
    denied = await env.deny(action.id, MALLORY, reason="not needed")
    assert (denied.state, denied.detail) == (ActionState.DENIED, "not needed")
    with pytest.raises(Conflict, match="denied"):
        await env.approve(action.id, ALICE)
    with pytest.raises(Conflict):
        await env.deny(action.id, ALICE)
    other = (await env.request(incident, "scale")).action
    assert (await env.deny(other.id, BOB)).state is ActionState.DENIED
    assert env.cluster.calls == []


async def test_clicks_after_approval_change_nothing(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale")).action
    await env.approve(action.id, ALICE)
    late = await env.approve(action.id, BOB)
    assert (late.changed, late.ready, late.message) == (False, True, "already approved")
    assert (await env.action(action.id)).approved_by == (slack_actor(ALICE),)


async def test_a_deployment_no_suggestion_names_cannot_be_changed(env: Env) -> None:
    # The default policy suggests only a diagnose on firebreak itself.
    env.cluster.add("firebreak", "firebreak", replicas=2)
    incident = await env.incident()
    with pytest.raises(Forbidden, match="suggests scale only on lnn-service, not on firebreak"):
        await env.request(incident, "scale", deployment="firebreak", replicas=5)
    entry = (await env.timeline(incident))[-1]
    assert entry.kind == "action.request_refused"
    assert entry.body["target"] == "firebreak/deploy/firebreak"
    assert env.cluster.get(Target("firebreak", "firebreak")).replicas == 2


async def test_an_approval_that_keeps_losing_the_race_is_on_the_timeline(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    read_target = env.cluster.snapshot

    async def busy(target: Target) -> Any:
        # Another writer moves the action each time this approval reads the target.
        async with env.store.transaction() as uow:
            current = await uow.actions.get(action.id)
            assert current is not None
            await uow.actions.update(current, current)
        return await read_target(target)

    env.cluster.snapshot = busy  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="kept changing"):
        await env.approve(action.id)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.refused", slack_actor(ALICE))
    assert "kept changing" in entry.body["reason"]
    assert (await env.action(action.id)).state is ActionState.REQUESTED
