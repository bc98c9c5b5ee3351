"""Exactly once under concurrency, on SQLite and on PostgreSQL (two engines standing in for
two bot replicas): 100 concurrent approve-and-execute clicks apply one change; a storm of
incidents requesting the same action makes one request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import FixedClock
from bot.domain.action import ActionState
from bot.domain.incident import Severity
from bot.domain.timeline import verify_chain
from bot.errors import Conflict
from bot.policy.model import Policy
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.fakes.memory.cluster import MemoryCluster
from tests.support.actions import ALICE, APPROVERS, BOB, CAROL, LNN, Env

CLICKS = 100


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[list[SqlStore]]:
    """Two stores on one database: two replicas of the bot."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    await upgrade_async(url)
    pair = [_store(url), _store(url)]
    try:
        yield pair
    finally:
        for store in pair:
            await store.close()


def _store(url: str) -> SqlStore:
    if url.startswith("sqlite"):
        return SqlStore.from_url(url)
    # Small pools: the 100 clicks queue for connections as they would behind a busy replica,
    # and the test stays well inside a shared server's connection limit.
    engine = create_async_engine(url, pool_size=4, max_overflow=2, pool_timeout=120)
    return SqlStore(engine)


@pytest.fixture
def envs(stores: list[SqlStore], clock: FixedClock, policy: Policy) -> list[Env]:
    """One bot replica per store, sharing one cluster with a deployment to act on."""
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    return [Env(store, cluster, clock, policy) for store in stores]


async def _click(env: Env, action_id: int, approver: str) -> ActionState:
    """What a button click does once wired: approve, then execute when ready."""
    result = await env.approve(action_id, approver)
    if not result.ready:
        return result.action.state
    return (await env.execute(action_id, approver)).state


async def test_100_concurrent_clicks_execute_once(envs: list[Env]) -> None:
    incident = await envs[0].incident()
    action = (await envs[0].request(incident, "scale", replicas=6)).action
    approvers = [ALICE, BOB, CAROL]
    states = await asyncio.gather(
        *(_click(envs[i % 2], action.id, approvers[i % 3]) for i in range(CLICKS))
    )
    cluster = envs[0].cluster
    assert cluster.applied == [("scale", LNN, "6")]
    assert sum(1 for call in cluster.calls if call == f"scale {LNN}") == 1
    assert ActionState.SUCCEEDED in states
    final = await envs[1].action(action.id)
    assert final.state is ActionState.SUCCEEDED
    assert len(final.approvals) == 1
    kinds = await envs[0].kinds(incident)
    assert kinds.count("action.approved") == 1
    assert kinds.count("action.started") == 1
    assert kinds.count("action.succeeded") == 1
    verify_chain(await envs[0].timeline(incident))


async def test_100_concurrent_executions_of_an_approved_action_run_once(envs: list[Env]) -> None:
    incident = await envs[0].incident()
    action = (await envs[0].request(incident, "restart")).action
    await envs[0].approve(action.id, ALICE)
    results = await asyncio.gather(*(envs[i % 2].execute(action.id) for i in range(CLICKS)))
    assert len(envs[0].cluster.applied) == 1
    assert sum(1 for r in results if r.state is ActionState.SUCCEEDED) >= 1
    # Every loser saw the action already running (or done) and left it alone.
    assert all(r.state in (ActionState.RUNNING, ActionState.SUCCEEDED) for r in results)
    assert (await envs[1].kinds(incident)).count("action.started") == 1


async def test_concurrent_p0_rollback_approvals_need_two_distinct_people(envs: list[Env]) -> None:
    incident = await envs[0].incident(Severity.P0)
    action = (await envs[0].request(incident, "rollback")).action
    states = await asyncio.gather(
        *(_click(envs[i % 2], action.id, APPROVERS[i % 2]) for i in range(40))
    )
    final = await envs[0].action(action.id)
    assert final.state is ActionState.SUCCEEDED
    assert sorted(map(str, final.approved_by)) == sorted(f"slack:{u}" for u in (ALICE, BOB))
    assert states.count(ActionState.SUCCEEDED) >= 1
    assert [verb for verb, _, _ in envs[0].cluster.applied] == ["rollback"]


async def test_a_storm_of_incidents_makes_one_request(envs: list[Env]) -> None:
    incidents = [await envs[0].incident(key=f"storm-{i}") for i in range(20)]
    results = await asyncio.gather(
        *(envs[i % 2].request(inc, "scale", by=f"U{i:04}") for i, inc in enumerate(incidents))
    )
    assert len({r.action.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    for inc in incidents:
        kinds = await envs[0].kinds(inc)
        assert kinds in (["action.requested"], ["action.joined"])


async def test_two_actions_on_one_deployment_do_not_run_together(envs: list[Env]) -> None:
    incident = await envs[0].incident()
    scale = (await envs[0].request(incident, "scale")).action
    restart = (await envs[0].request(incident, "restart")).action
    await envs[0].approve(scale.id, ALICE)
    await envs[0].approve(restart.id, ALICE)
    cluster = envs[0].cluster
    cluster.stalled = True  # both claims race while the first rollout is held

    async def run(env: Env, action_id: int) -> str:
        try:
            return (await env.execute(action_id)).state.value
        except Conflict:
            return "busy"

    async def release() -> None:
        for _ in range(200):
            if any(not c.startswith(("snapshot", "diagnose")) for c in cluster.calls):
                break
            await asyncio.sleep(0.01)
        cluster.stalled = False

    outcomes = await asyncio.gather(run(envs[0], scale.id), run(envs[1], restart.id), release())
    # One ran; the other was refused as busy or, if it came second, found its target moved.
    assert sorted(outcomes[:2]) in (["busy", "succeeded"], ["failed", "succeeded"])
    assert len(cluster.applied) == 1
