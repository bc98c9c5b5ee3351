"""Crash safety: an executor dies mid-way (the fake cluster raises ``SimulatedCrash``, which
nothing catches, like a SIGKILL); a restarted firebreak reconciles against the cluster and
the change lands at most once."""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionState
from bot.domain.actor import BOT
from bot.policy.model import Policy
from tests.fakes.memory.cluster import MemoryCluster, SimulatedCrash
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import LEASE, LNN, Env, with_action_options


@pytest.fixture
def env(clock: FixedClock, policy: Policy) -> Env:
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    return Env(MemoryStore(), cluster, clock, policy)


async def crashed(env: Env, verb: str, *, after_apply: bool, **kw: Any) -> int:
    """An action whose executor died just before or just after its apply reached the API."""
    incident = await env.incident()
    action = (await env.request(incident, verb, **kw)).action
    await env.approve(action.id)
    if after_apply:
        env.cluster.crash_after_apply = True
    else:
        env.cluster.crash_before_apply = True
    with pytest.raises(SimulatedCrash):
        await env.execute(action.id)
    env.cluster.crash_after_apply = env.cluster.crash_before_apply = False
    stored = await env.action(action.id)
    assert stored.state is ActionState.RUNNING
    assert stored.apply_snapshot is not None
    return action.id


async def test_a_live_lease_is_left_alone(env: Env) -> None:
    action_id = await crashed(env, "scale", after_apply=False)
    assert await env.reconcile() == []
    assert (await env.action(action_id)).state is ActionState.RUNNING
    env.clock.advance(LEASE)
    assert [a.state for a in await env.reconcile()] == [ActionState.SUCCEEDED]


@pytest.mark.parametrize("verb", ["scale", "restart", "rollback"])
async def test_crash_after_the_apply_is_followed_not_reapplied(env: Env, verb: str) -> None:
    action_id = await crashed(env, verb, after_apply=True)
    assert len(env.cluster.applied) == 1
    env.clock.advance(LEASE)
    before = len(env.cluster.calls)
    settled = await env.reconcile()
    assert [(a.id, a.state) for a in settled] == [(action_id, ActionState.SUCCEEDED)]
    assert len(env.cluster.applied) == 1
    # Not even a dry run: reconciling only looked.
    assert not any(call.startswith(verb) for call in env.cluster.calls[before:])
    incident = settled[0].incident_id
    kinds = await env.kinds(incident)
    assert kinds[-3:] == ["action.reconciling", "action.reconciled", "action.succeeded"]


@pytest.mark.parametrize("verb", ["scale", "restart", "rollback"])
async def test_crash_before_the_apply_applies_once_on_reconcile(env: Env, verb: str) -> None:
    action_id = await crashed(env, verb, after_apply=False)
    assert env.cluster.applied == []
    env.clock.advance(LEASE)
    settled = await env.reconcile()
    assert [(a.id, a.state) for a in settled] == [(action_id, ActionState.SUCCEEDED)]
    assert len(env.cluster.applied) == 1
    # A second restart of firebreak finds nothing left to do.
    env.clock.advance(LEASE)
    assert await env.reconcile() == []
    assert len(env.cluster.applied) == 1


async def test_crash_between_claim_and_dry_run_runs_the_guarded_path(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    await env.approve(action.id)
    # The executor claims, then dies on its first look at the target.
    original = env.cluster.snapshot

    async def dying(_target: object) -> object:
        raise SimulatedCrash("killed after the claim")

    env.cluster.snapshot = dying  # type: ignore[assignment,method-assign]
    with pytest.raises(SimulatedCrash):
        await env.execute(action.id)
    env.cluster.snapshot = original  # type: ignore[method-assign]
    stored = await env.action(action.id)
    assert (stored.state, stored.apply_snapshot) == (ActionState.RUNNING, None)
    env.clock.advance(LEASE)
    assert [a.state for a in await env.reconcile()] == [ActionState.SUCCEEDED]
    assert env.cluster.applied == [("scale", LNN, "6")]


async def test_a_target_moved_while_down_needs_a_human(env: Env) -> None:
    action_id = await crashed(env, "scale", after_apply=False, replicas=6)
    env.cluster.scale_by_someone_else(LNN, 4)
    env.clock.advance(LEASE)
    [settled] = await env.reconcile()
    assert settled.id == action_id
    assert settled.state is ActionState.FAILED
    assert settled.detail.startswith("needs a human")
    assert "replicas 3→4" in settled.detail
    assert env.cluster.get(LNN).replicas == 4
    assert env.cluster.applied == []


async def test_someone_elses_deploy_is_not_mistaken_for_our_rollback(env: Env) -> None:
    await crashed(env, "rollback", after_apply=False)
    env.cluster.deploy_by_someone_else(LNN, "v3")
    env.clock.advance(LEASE)
    [settled] = await env.reconcile()
    assert settled.state is ActionState.FAILED
    assert settled.detail.startswith("needs a human")
    assert env.cluster.get(LNN).template["image"] == "v3"
    assert env.cluster.applied == []


async def test_an_approved_action_nobody_claimed_is_executed(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    await env.approve(action.id)
    # The process died between the approval and the claim.
    [settled] = await env.reconcile()
    assert settled.state is ActionState.SUCCEEDED
    assert len(env.cluster.applied) == 1
    started = [e for e in await env.timeline(incident) if e.kind == "action.started"]
    assert started[0].actor == BOT


async def test_a_stale_executor_cannot_finish_what_was_taken_over(env: Env) -> None:
    """An executor that lost its lease (a long pause) must not overwrite the new owner."""
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    await env.approve(action.id)
    env.cluster.stalled = True
    taken_over: list[ActionState] = []

    async def paused_wait(seconds: float) -> None:
        env.clock.advance(LEASE + seconds)
        if not taken_over:
            env.cluster.stalled = False
            env.cluster.settle()
            # Another replica reconciles while this executor sleeps.
            taken_over.extend(a.state for a in await Env.reconcile(env))

    env.wait = paused_wait  # type: ignore[method-assign]
    result = await env.execute(action.id)
    assert taken_over == [ActionState.SUCCEEDED]
    assert result.state is ActionState.SUCCEEDED
    assert len(env.cluster.applied) == 1
    finished = [e for e in await env.timeline(incident) if e.kind == "action.succeeded"]
    assert len(finished) == 1


async def test_a_deployment_deleted_while_down_needs_a_human(env: Env) -> None:
    await crashed(env, "restart", after_apply=True)
    second = await env.incident(key="other")
    env.cluster.add("firebreak", "lnn-service-canary")
    env.policy = with_action_options(env.policy, "scale", deployment="lnn-service-canary")
    other = (await env.request(second, "scale", deployment="lnn-service-canary")).action
    await env.approve(other.id)
    env.cluster.crash_before_apply = True
    with pytest.raises(SimulatedCrash):
        await env.execute(other.id)
    env.cluster.crash_before_apply = False
    del env.cluster.deployments[LNN]
    env.clock.advance(LEASE)
    settled = {a.id: a for a in await env.reconcile()}
    # One broken action does not stop the others from being settled.
    assert len(settled) == 2
    assert settled[other.id].state is ActionState.SUCCEEDED
    [lost] = [a for a in settled.values() if a.id != other.id]
    assert lost.state is ActionState.FAILED
    assert lost.detail.startswith("needs a human")
