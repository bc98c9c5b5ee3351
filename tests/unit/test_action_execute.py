"""Executing approved actions against the fake cluster: dry run, apply, rollout, refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionState
from bot.domain.actor import BOT
from bot.domain.incident import Severity
from bot.domain.timeline import verify_chain
from bot.errors import Conflict, Forbidden
from bot.policy.model import Policy
from bot.services.remediation.diagnose import diagnose_target
from bot.services.remediation.execute import execute_action
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import RESTARTED_AT, MemoryCluster
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import ALICE, BOB, DEADLINE, LNN, TTL, Env


@pytest.fixture
def env(clock: FixedClock, policy: Policy) -> Env:
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    return Env(MemoryStore(), cluster, clock, policy)


async def approved(env: Env, verb: str = "scale", incident: int | None = None, **kw: Any) -> int:
    incident = incident or await env.incident()
    action = (await env.request(incident, verb, **kw)).action
    assert (await env.approve(action.id)).ready
    return action.id


async def test_scale_dry_runs_applies_and_follows_the_rollout(env: Env) -> None:
    incident = await env.incident()
    action_id = await approved(env, "scale", incident, replicas=6)
    done = await env.execute(action_id, BOB)
    assert done.state is ActionState.SUCCEEDED
    assert "successfully rolled out" in done.detail
    assert env.cluster.get(LNN).replicas == 6
    assert env.cluster.applied == [("scale", LNN, "6")]
    scale_calls = [c for c in env.cluster.calls if c.startswith("scale")]
    assert scale_calls == [f"scale dry-run {LNN}", f"scale {LNN}"]
    # Progress was reported on every look, ending with the finished rollout.
    assert [p.updated for p in env.progress] == [3, 4, 5, 6]
    assert env.progress[-1].done
    assert await env.kinds(incident) == [
        "action.requested",
        "action.approved",
        "action.started",
        "action.applied",
        "action.succeeded",
    ]
    entries = await env.timeline(incident)
    started = next(e for e in entries if e.kind == "action.started")
    assert started.actor == slack_actor(BOB)
    assert entries[-1].actor == BOT
    verify_chain(entries)


async def test_restart_stamps_the_value_fixed_at_approval(env: Env) -> None:
    action_id = await approved(env, "restart")
    stamp = (await env.action(action_id)).restarted_at
    env.clock.advance(30)
    done = await env.execute(action_id)
    assert done.state is ActionState.SUCCEEDED
    assert env.cluster.get(LNN).template["annotations"][RESTARTED_AT] == stamp


async def test_rollback_returns_to_the_previous_revision(env: Env) -> None:
    action_id = await approved(env, "rollback")
    done = await env.execute(action_id)
    assert done.state is ActionState.SUCCEEDED
    dep = env.cluster.get(LNN)
    assert dep.template["image"] == "v1"
    assert sorted(dep.history) == [2, 3]


async def test_executing_twice_runs_once(env: Env) -> None:
    action_id = await approved(env)
    first = await env.execute(action_id)
    again = await env.execute(action_id, BOB)
    assert first.state is again.state is ActionState.SUCCEEDED
    assert len(env.cluster.applied) == 1


async def test_only_approved_actions_run(env: Env) -> None:
    incident = await env.incident(Severity.P0)
    action = (await env.request(incident, "rollback")).action
    assert (await env.execute(action.id)).state is ActionState.REQUESTED
    await env.approve(action.id, ALICE)
    assert (await env.execute(action.id)).state is ActionState.REQUESTED
    assert env.cluster.applied == []


async def test_a_moved_target_fails_and_asks_for_a_fresh_approval(env: Env) -> None:
    incident = await env.incident()
    action_id = await approved(env, "scale", incident, replicas=6)
    env.cluster.scale_by_someone_else(LNN, 4)
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "target changed since approval" in done.detail
    assert "replicas 3→4" in done.detail
    assert "fresh approval" in done.detail
    assert env.cluster.applied == []
    assert not any("dry-run" in c for c in env.cluster.calls)
    assert (await env.kinds(incident))[-1] == "action.failed"
    # The failed action no longer blocks a new request for the same thing.
    assert (await env.request(incident, "scale")).created


async def test_status_only_changes_do_not_count_as_moved(env: Env) -> None:
    action_id = await approved(env, "restart")
    env.cluster.get(LNN).resource_version += 5  # the controller updated the status
    assert (await env.execute(action_id)).state is ActionState.SUCCEEDED


async def test_a_rejected_dry_run_fails_with_the_apis_message(env: Env) -> None:
    action_id = await approved(env)
    env.cluster.reject_dry_run = 'admission webhook "quota" denied the request: exceeded quota'
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert done.detail == (
        'dry run rejected: admission webhook "quota" denied the request: exceeded quota'
    )
    assert env.cluster.applied == []


async def test_a_conflict_on_apply_fails_for_a_fresh_approval(env: Env) -> None:
    action_id = await approved(env, "rollback")
    env.cluster.conflict_on_apply = True
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "fresh approval" in done.detail
    assert env.cluster.applied == []


async def test_an_ambiguous_apply_needs_a_human(env: Env) -> None:
    action_id = await approved(env)
    env.cluster.unavailable_after_apply = True
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert done.detail.startswith("needs a human")


async def test_a_rollout_past_its_deadline_fails_and_suggests_rollback(env: Env) -> None:
    action_id = await approved(env, "restart")
    env.cluster.stalled = True
    start = env.clock.now()
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert f"did not finish within {DEADLINE:g} s" in done.detail
    assert "rollback" in done.detail
    assert "(Waiting for deployment spec update to be observed...)" in done.detail
    assert (env.clock.now() - start).total_seconds() == DEADLINE


async def test_a_failed_rollout_fails_the_action(env: Env) -> None:
    action_id = await approved(env, "restart")
    env.cluster.rollout_fails = True
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "exceeded its progress deadline" in done.detail


async def test_a_failing_progress_callback_does_not_stop_the_rollout(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    action_id = await approved(env)

    async def broken(*_: object) -> None:
        raise RuntimeError("slack is down")

    ctx = dataclasses.replace(env.ctx, progress=broken)
    done = await execute_action(ctx, action_id, actor=slack_actor(ALICE))
    assert done.state is ActionState.SUCCEEDED
    assert "progress callback failed" in caplog.text


async def test_an_approval_not_acted_on_expires(env: Env) -> None:
    action_id = await approved(env)
    env.clock.advance(TTL)
    assert (await env.execute(action_id)).state is ActionState.EXPIRED
    assert env.cluster.applied == []


async def test_one_running_action_per_deployment(env: Env) -> None:
    incident = await env.incident()
    scale = await approved(env, "scale", incident)
    restart = await approved(env, "restart", incident)
    env.cluster.stalled = True

    async def blocked_wait(seconds: float) -> None:
        env.clock.advance(seconds)
        # While the scale's rollout is followed, the restart must not start.
        with pytest.raises(Conflict, match="is running"):
            await env.execute(restart)
        refused = (await env.timeline(incident))[-1]
        assert (refused.kind, refused.body["attempted"]) == ("action.refused", "execute")
        assert refused.body["action_id"] == restart
        env.cluster.stalled = False
        env.cluster.advance()

    env.wait = blocked_wait  # type: ignore[method-assign]
    assert (await env.execute(scale)).state is ActionState.SUCCEEDED
    assert (await env.action(restart)).state is ActionState.APPROVED
    del env.wait
    # Approved before the scale moved the deployment: it must not run on the new state.
    late = await env.execute(restart)
    assert late.state is ActionState.FAILED
    assert "target changed since approval (generation 1→2, replicas 3→6)" in late.detail
    assert [verb for verb, _, _ in env.cluster.applied] == ["scale"]


async def test_diagnose_is_read_only_and_recorded(env: Env) -> None:
    incident = await env.incident()
    diagnosis = await diagnose_target(
        env.ctx, incident, "firebreak", "lnn-service", actor=slack_actor(ALICE)
    )
    assert diagnosis.snapshot.replicas == 3
    assert env.cluster.applied == []
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.diagnosed", slack_actor(ALICE))
    assert entry.body["revisions"] == [1, 2]
    assert entry.body["ready"] == 3
    with pytest.raises(Forbidden):
        await diagnose_target(env.ctx, incident, "kube-system", "coredns", actor=slack_actor(ALICE))


async def test_a_deleted_deployment_fails_the_action(env: Env) -> None:
    action_id = await approved(env)
    del env.cluster.deployments[LNN]
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert "not found" in done.detail


async def test_an_unreachable_api_before_the_apply_fails_cleanly(env: Env) -> None:
    action_id = await approved(env)
    env.cluster.unavailable = True
    done = await env.execute(action_id)
    assert done.state is ActionState.FAILED
    assert done.detail.startswith("cannot read the target")
    assert env.cluster.applied == []
