"""Scaling a deployment an HPA governs, against the in-memory cluster: the request plans a
change of the HPA's minReplicas (within its maxReplicas and the policy's bounds), execution
re-reads the HPA, dry-runs, sets the floor and records the previous one, a restore is allowed
on the resolved incident, and reconciliation recognises a floor that landed."""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.autoscaler import AutoscalerPlan
from bot.domain.deployment import RolloutProgress
from bot.domain.events import EventKind
from bot.errors import BadRequest, Conflict, Forbidden
from bot.policy.model import ActionBounds, Policy
from bot.services.incidents.updates import resolve
from bot.services.remediation.autoscaler import reached
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import MemoryCluster, SimulatedCrash
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import ALICE, LEASE, LNN, Env, with_action_options
from tests.support.store_builders import T0

HPA = AutoscalerPlan("lnn-service", 3, 10)


@pytest.fixture
def env(clock: FixedClock, policy: Policy) -> Env:
    cluster = MemoryCluster()
    cluster.add(LNN.namespace, LNN.name, replicas=3)
    cluster.hpas.add(LNN, min_replicas=3, max_replicas=10)
    return Env(MemoryStore(), cluster, clock, policy)


async def approved(env: Env, incident: int | None = None, **kw: Any) -> int:
    incident = incident or await env.incident()
    action = (await env.request(incident, "scale", **kw)).action
    assert (await env.approve(action.id)).ready
    return action.id


async def body(env: Env, incident: int, kind: str) -> dict[str, Any]:
    return next(e.body for e in reversed(await env.timeline(incident)) if e.kind == kind)


# -- the plan at request time -----------------------------------------------------------------
async def test_a_scale_under_an_hpa_is_planned_as_its_min_replicas(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    assert action.autoscaler == HPA
    assert action.describe() == f"scale {LNN} to 6 through HPA lnn-service minReplicas"
    requested = await body(env, incident, "action.requested")
    assert requested["autoscaler"] == {"name": "lnn-service", "min_replicas": 3, "max_replicas": 10}
    assert requested["autoscaler_unchecked"] == ""
    assert env.cluster.autoscaler_reads == [LNN]


async def test_without_an_hpa_a_scale_is_planned_as_before(env: Env) -> None:
    env.cluster.hpas.by_target.clear()
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    assert action.autoscaler is None
    assert action.describe() == f"scale {LNN} to 6"
    assert "autoscaler" not in await body(env, incident, "action.requested")


async def test_above_the_hpa_max_is_refused_before_any_action_is_stored(env: Env) -> None:
    env.cluster.hpas.get(LNN).max_replicas = 5
    incident = await env.incident()
    with pytest.raises(Forbidden, match="above HPA firebreak/lnn-service's maxReplicas 5"):
        await env.request(incident, "scale", replicas=6)
    # The refusal is on the timeline (and so in the thread); no action was opened.
    assert await env.kinds(incident) == [EventKind.ACTION_REQUEST_REFUSED]
    assert "maxReplicas 5" in (await body(env, incident, "action.request_refused"))["reason"]


async def test_the_policy_bounds_still_apply_under_an_hpa(env: Env) -> None:
    incident = await env.incident()
    with pytest.raises(Forbidden, match="outside the policy's bounds"):
        await env.request(incident, "scale", replicas=11)
    assert env.cluster.autoscaler_reads == []  # refused before the cluster was asked


@pytest.mark.parametrize("replicas", [4, 6])
async def test_a_scale_at_or_below_the_floor_is_refused_outside_a_restore(
    env: Env, replicas: int
) -> None:
    env.cluster.hpas.get(LNN).min_replicas = 6
    incident = await env.incident()
    with pytest.raises(Conflict, match="HPA firebreak/lnn-service already keeps at least 6"):
        await env.request(incident, "scale", replicas=replicas)
    assert await env.kinds(incident) == [EventKind.ACTION_REQUEST_REFUSED]
    assert env.cluster.hpas.get(LNN).min_replicas == 6


async def test_a_floor_raised_past_the_count_before_execution_is_not_lowered(env: Env) -> None:
    action_id = await approved(env, replicas=6)
    env.cluster.hpas.change_min_by_someone_else(LNN, 7)
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "already keeps at least 7" in done.detail
    assert env.cluster.hpas.get(LNN).min_replicas == 7
    assert env.cluster.applied == []


async def test_an_unreachable_cluster_plans_a_plain_scale_and_execution_refuses_it(
    env: Env,
) -> None:
    env.cluster.unavailable = True
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    assert action.autoscaler is None
    unchecked = (await body(env, incident, "action.requested"))["autoscaler_unchecked"]
    assert "connection refused" in unchecked
    env.cluster.unavailable = False
    assert (await env.approve(action.id)).ready
    done = await env.execute(action.id)
    assert done.state is ActionState.FAILED
    assert "HPA firebreak/lnn-service governs" in done.detail
    assert "would be undone by the autoscaler" in done.detail
    assert env.cluster.applied == []
    assert env.cluster.get(LNN).replicas == 3


# -- execution --------------------------------------------------------------------------------
async def test_approval_sets_the_floor_after_a_dry_run_and_records_the_previous(env: Env) -> None:
    incident = await env.incident()
    done = await env.execute(await approved(env, incident, replicas=6))
    assert done.state is ActionState.SUCCEEDED
    assert env.cluster.hpas.get(LNN).min_replicas == 6
    assert env.cluster.get(LNN).replicas == 6  # the HPA scaled the deployment up
    calls = [c for c in env.cluster.calls if c.startswith(("set_min", "scale"))]
    assert calls == [f"set_min_replicas dry-run {LNN}", f"set_min_replicas {LNN}"]
    assert env.cluster.applied == [("set_min_replicas", LNN, "6")]
    assert done.previous_min_replicas == 3
    applied = await body(env, incident, "action.applied")
    assert applied["previous_min_replicas"] == 3
    assert applied["detail"] == "set minReplicas from 3 to 6"
    assert env.progress[-1].done
    assert env.progress[-1].desired == 6


async def test_a_floor_moved_since_the_request_is_said_in_the_result(env: Env) -> None:
    incident = await env.incident()
    action_id = await approved(env, incident, replicas=6)
    env.cluster.hpas.change_min_by_someone_else(LNN, 4)
    done = await env.execute(action_id)
    assert done.state is ActionState.SUCCEEDED
    assert done.previous_min_replicas == 4
    applied = await body(env, incident, "action.applied")
    assert "HPA minReplicas changed since the request (3 → 4)" in applied["detail"]
    assert done.detail.endswith("; HPA minReplicas changed since the request (3 → 4)")


async def test_the_hpa_moving_replicas_is_not_a_changed_target(env: Env) -> None:
    action_id = await approved(env, replicas=6)
    env.cluster.scale_by_someone_else(LNN, 5)  # the autoscaler reacting to load
    done = await env.execute(action_id)
    assert done.state is ActionState.SUCCEEDED
    assert env.cluster.get(LNN).replicas == 6


async def test_an_hpa_gone_or_shrunk_since_the_request_stops_the_action(env: Env) -> None:
    action_id = await approved(env, replicas=6)
    env.cluster.hpas.get(LNN).max_replicas = 5
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "maxReplicas 5" in done.detail
    env.cluster.hpas.get(LNN).max_replicas = 10
    second = await approved(env, await env.incident(key="g2"), replicas=6)
    env.cluster.hpas.by_target.clear()
    failed = await env.execute(second)
    assert failed.state is ActionState.FAILED
    assert "no longer governs" in failed.detail
    assert env.cluster.applied == []


def test_an_hpa_scale_is_not_done_until_the_deployment_reaches_the_floor() -> None:
    progress = RolloutProgress(3, 3, 3, 3, True, True, "successfully rolled out")
    action = ActionRequest(
        id=1,
        incident_id=1,
        verb=ActionVerb.SCALE,
        target=LNN,
        state=ActionState.RUNNING,
        requested_by=slack_actor(ALICE),
        requested_at=T0,
        expires_at=T0,
        updated_at=T0,
        replicas=6,
        autoscaler=HPA,
    )
    waiting = reached(action, progress)
    assert not waiting.done
    assert waiting.message == "Waiting for HPA lnn-service to scale lnn-service to 6 (now 3)..."
    six = RolloutProgress(6, 6, 6, 6, True, True, "successfully rolled out")
    assert reached(action, six) is six


# -- restore on resolution --------------------------------------------------------------------
async def test_a_restore_is_allowed_on_the_resolved_incident_and_puts_the_floor_back(
    env: Env,
) -> None:
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    await resolve(env.store, incident, actor=slack_actor(ALICE), at=env.clock.now())
    with pytest.raises(Conflict, match="resolved"):
        await env.request(incident, "restart")
    with pytest.raises(Conflict, match="minReplicas 3"):
        await env.request(incident, "scale", replicas=4, restores=raised.id)
    restore = (await env.request(incident, "scale", replicas=3, restores=raised.id)).action
    assert restore.restores == raised.id
    assert restore.autoscaler == AutoscalerPlan("lnn-service", 6, 10)
    assert (await body(env, incident, "action.requested"))["restores"] == raised.id
    assert (await env.approve(restore.id)).ready
    done = await env.execute(restore.id)
    assert done.state is ActionState.SUCCEEDED
    assert env.cluster.hpas.get(LNN).min_replicas == 3


async def test_only_a_succeeded_hpa_scale_of_this_incident_can_be_restored(env: Env) -> None:
    incident = await env.incident()
    pending = (await env.request(incident, "scale", replicas=6)).action
    with pytest.raises(Conflict, match="moved no HPA floor"):
        await env.request(incident, "scale", replicas=3, restores=pending.id)
    other = await env.incident(key="g2")
    raised = await env.execute((await env.approve(pending.id)).action.id)
    with pytest.raises(Conflict, match="moved no HPA floor"):
        await env.request(other, "scale", replicas=3, restores=raised.id)


async def test_a_restore_needs_the_hpa(env: Env) -> None:
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    env.cluster.hpas.by_target.clear()
    with pytest.raises(Conflict, match="nothing to restore"):
        await env.request(incident, "scale", replicas=3, restores=raised.id)
    env.cluster.unavailable = True
    with pytest.raises(Conflict, match="cannot read the HPA"):
        await env.request(incident, "scale", replicas=3, restores=raised.id)


async def test_zero_replicas_cannot_be_an_hpa_floor(env: Env, policy: Policy) -> None:
    env.policy = with_action_options(policy, "scale", bounds=ActionBounds(0, 10))
    incident = await env.incident()
    with pytest.raises(BadRequest, match="at least 1"):
        await env.request(incident, "scale", replicas=0)


# -- reconciliation ---------------------------------------------------------------------------
async def crashed(env: Env, *, after_apply: bool) -> int:
    action_id = await approved(env, replicas=6)
    if after_apply:
        env.cluster.crash_after_apply = True
    else:
        env.cluster.crash_before_apply = True
    with pytest.raises(SimulatedCrash):
        await env.execute(action_id)
    env.cluster.crash_after_apply = env.cluster.crash_before_apply = False
    stored = await env.action(action_id)
    assert stored.state is ActionState.RUNNING
    assert stored.previous_min_replicas == 3
    return action_id


async def test_a_floor_that_landed_before_the_crash_is_followed_not_reapplied(env: Env) -> None:
    action_id = await crashed(env, after_apply=True)
    env.clock.advance(LEASE)
    settled = await env.reconcile()
    assert [(a.id, a.state) for a in settled] == [(action_id, ActionState.SUCCEEDED)]
    assert env.cluster.applied == [("set_min_replicas", LNN, "6")]
    kinds = await env.kinds(settled[0].incident_id)
    assert kinds[-3:] == ["action.reconciling", "action.reconciled", "action.succeeded"]


async def test_a_floor_that_never_landed_is_applied_once_on_reconcile(env: Env) -> None:
    action_id = await crashed(env, after_apply=False)
    assert env.cluster.applied == []
    env.cluster.scale_by_someone_else(LNN, 4)  # the HPA moving replicas is no obstacle
    env.clock.advance(LEASE)
    settled = await env.reconcile()
    assert [(a.id, a.state) for a in settled] == [(action_id, ActionState.SUCCEEDED)]
    assert env.cluster.applied == [("set_min_replicas", LNN, "6")]
    assert env.cluster.hpas.get(LNN).min_replicas == 6


async def test_a_floor_moved_by_someone_else_while_down_needs_a_human(env: Env) -> None:
    await crashed(env, after_apply=False)
    env.cluster.hpas.change_min_by_someone_else(LNN, 5)
    env.clock.advance(LEASE)
    [settled] = await env.reconcile()
    assert settled.state is ActionState.FAILED
    assert settled.detail.startswith("needs a human")
    assert "minReplicas 3→5" in settled.detail
    assert env.cluster.applied == []


# -- a restore never lowers a floor someone raised since --------------------------------------
async def test_a_restore_is_refused_when_the_floor_moved_since(env: Env) -> None:
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    env.cluster.hpas.change_min_by_someone_else(LNN, 8)
    with pytest.raises(Conflict, match=f"minReplicas is 8, not the 6 incident {incident} set"):
        await env.request(incident, "scale", replicas=3, restores=raised.id)
    assert env.cluster.hpas.get(LNN).min_replicas == 8


async def test_a_restore_is_refused_once_a_later_scale_replaced_its_floor(env: Env) -> None:
    first, second = await env.incident(), await env.incident(key="g2")
    raised = await env.execute(await approved(env, first, replicas=6))
    later = await env.execute(await approved(env, second, replicas=8))
    assert later.state is ActionState.SUCCEEDED
    with pytest.raises(Conflict, match=f"action {later.id} of incident {second} set the floor"):
        await env.request(first, "scale", replicas=3, restores=raised.id)
    # Once the later floor is put back, the earlier one may be restored.
    undo = (await env.request(second, "scale", replicas=6, restores=later.id)).action
    assert (await env.approve(undo.id)).ready
    assert (await env.execute(undo.id)).state is ActionState.SUCCEEDED
    restore = (await env.request(first, "scale", replicas=3, restores=raised.id)).action
    assert (await env.approve(restore.id)).ready
    assert (await env.execute(restore.id)).state is ActionState.SUCCEEDED
    assert env.cluster.hpas.get(LNN).min_replicas == 3


async def test_a_restore_puts_back_the_floor_from_before_the_incident_that_raised_it_twice(
    env: Env,
) -> None:
    incident = await env.incident()
    first = await env.execute(await approved(env, incident, replicas=6))
    await env.execute(await approved(env, incident, replicas=8))
    assert env.cluster.hpas.get(LNN).min_replicas == 8
    restore = (await env.request(incident, "scale", replicas=3, restores=first.id)).action
    assert restore.autoscaler == AutoscalerPlan("lnn-service", 8, 10)
    assert (await env.approve(restore.id)).ready
    assert (await env.execute(restore.id)).state is ActionState.SUCCEEDED
    assert env.cluster.hpas.get(LNN).min_replicas == 3


async def test_a_restore_whose_floor_moved_before_execution_fails(env: Env) -> None:
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    restore = (await env.request(incident, "scale", replicas=3, restores=raised.id)).action
    assert (await env.approve(restore.id)).ready
    env.cluster.hpas.change_min_by_someone_else(LNN, 8)
    done = await env.execute(restore.id)
    assert done.state is ActionState.FAILED
    assert "minReplicas moved since the restore was requested (6 → 8)" in done.detail
    assert env.cluster.hpas.get(LNN).min_replicas == 8


async def test_a_restore_does_not_join_an_unrelated_open_scale(env: Env) -> None:
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    other = await env.incident(key="g2")
    open_scale = (await env.request(other, "scale", replicas=8)).action
    with pytest.raises(Conflict, match=f"action {open_scale.id}.* cannot join it"):
        await env.request(incident, "scale", replicas=3, restores=raised.id)
    refused = await body(env, incident, "action.request_refused")
    assert "cannot join it" in refused["reason"]
    assert (await env.action(open_scale.id)).replicas == 8
    # The same restore clicked twice joins the open one.
    await env.deny(open_scale.id)
    restore = (await env.request(incident, "scale", replicas=3, restores=raised.id)).action
    again = await env.request(incident, "scale", replicas=3, restores=raised.id, by=ALICE)
    assert not again.created
    assert again.action.id == restore.id
    # And a raise does not join the open restore (it would lower what it asked to raise).
    with pytest.raises(Conflict, match="a scale to 8 replicas cannot join it"):
        await env.request(other, "scale", replicas=8)


# -- under an HPA, replica moves are the autoscaler's for every verb --------------------------
@pytest.mark.parametrize("verb", ["restart", "rollback"])
async def test_the_hpa_scaling_meanwhile_does_not_stop_a_restart_or_rollback(
    env: Env, verb: str
) -> None:
    env.cluster.add(LNN.namespace, LNN.name, replicas=3, images=("v1", "v2"))
    env.cluster.hpas.add(LNN, min_replicas=3, max_replicas=10)
    action_id = await approved_verb(env, verb)
    env.cluster.scale_by_someone_else(LNN, 4)  # the autoscaler reacting to load
    done = await env.execute(action_id)
    assert done.state is ActionState.SUCCEEDED, done.detail
    assert [call for call, _, _ in env.cluster.applied] == [verb]


async def test_without_an_hpa_a_replica_move_still_stops_a_restart(env: Env) -> None:
    env.cluster.hpas.by_target.clear()
    action_id = await approved_verb(env, "restart")
    env.cluster.scale_by_someone_else(LNN, 4)
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "target changed since approval (generation 1→2, replicas 3→4)" in done.detail


async def test_a_restart_reconciled_under_an_hpa_that_scaled_meanwhile_runs(env: Env) -> None:
    action_id = await approved_verb(env, "restart")
    env.cluster.crash_before_apply = True
    with pytest.raises(SimulatedCrash):
        await env.execute(action_id)
    env.cluster.crash_before_apply = False
    env.cluster.scale_by_someone_else(LNN, 5)
    env.clock.advance(LEASE)
    [settled] = await env.reconcile()
    assert settled.state is ActionState.SUCCEEDED, settled.detail
    assert [call for call, _, _ in env.cluster.applied] == ["restart"]


async def approved_verb(env: Env, verb: str) -> int:
    action = (await env.request(await env.incident(), verb)).action
    assert (await env.approve(action.id)).ready
    return action.id


async def test_a_floor_from_before_the_incident_below_the_policy_bounds_can_be_restored(
    env: Env,
) -> None:
    env.cluster.hpas.get(LNN).min_replicas = 2  # below the policy's 3 to 10
    incident = await env.incident()
    raised = await env.execute(await approved(env, incident, replicas=6))
    assert raised.previous_min_replicas == 2
    await resolve(env.store, incident, actor=slack_actor(ALICE), at=env.clock.now())
    restore = (await env.request(incident, "scale", replicas=2, restores=raised.id)).action
    assert (await env.approve(restore.id)).ready
    assert (await env.execute(restore.id)).state is ActionState.SUCCEEDED
    assert env.cluster.hpas.get(LNN).min_replicas == 2
    # Outside a restore the policy's lower bound still holds.
    with pytest.raises(Forbidden, match="outside the policy's bounds"):
        await env.request(await env.incident(key="g2"), "scale", replicas=2)
