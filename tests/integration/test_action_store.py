"""The action repository contract and the state machine, alike on memory, SQLite and
PostgreSQL: compare-and-set transitions, the partial unique indexes, leases."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionState, ActionVerb, Approval, NewAction
from bot.domain.target import Target
from bot.domain.timeline import verify_chain
from bot.errors import Conflict, Forbidden
from bot.policy.model import Policy
from bot.ports import Store
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import MemoryCluster, SimulatedCrash
from tests.support.actions import ALICE, BOB, LNN, Env
from tests.support.store_builders import T0, new_incident

OTHER = Target("firebreak", "other")


async def _incident(store: Store, key: str = "g") -> int:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key=key))
    return incident.id


def _new(incident_id: int, verb: ActionVerb = ActionVerb.SCALE, **kw: object) -> NewAction:
    fields: dict[str, object] = {
        "incident_id": incident_id,
        "verb": verb,
        "target": LNN,
        "requested_by": slack_actor(ALICE),
        "requested_at": T0,
        "expires_at": T0 + timedelta(minutes=10),
        "replicas": 6 if verb is ActionVerb.SCALE else None,
    }
    fields.update(kw)
    return NewAction(**fields)  # type: ignore[arg-type]


async def test_an_action_round_trips(store: Store) -> None:
    incident = await _incident(store)
    async with store.transaction() as uow:
        action, created = await uow.actions.open_or_existing(_new(incident))
    snap = MemoryCluster()
    snap.add("firebreak", "lnn-service")
    snapshot = await snap.snapshot(LNN)
    changed = dataclasses.replace(
        action,
        state=ActionState.APPROVED,
        approvals=(Approval(slack_actor(BOB), T0),),
        snapshot=snapshot,
        restarted_at="2026-11-22T10:00:00Z",
        rollback_revision=3,
        updated_at=T0 + timedelta(seconds=1),
    )
    async with store.transaction() as uow:
        stored = await uow.actions.update(action, changed)
    async with store.transaction() as uow:
        again = await uow.actions.get(action.id)
    assert created
    assert action.version == 1
    assert stored is not None
    assert stored.version == 2
    assert again == stored
    assert again.snapshot == snapshot
    assert again.approvals == (Approval(slack_actor(BOB), T0),)
    assert again.apply_snapshot is None
    assert again.requested_at == T0


async def test_one_open_request_per_verb_and_target(store: Store) -> None:
    first_incident = await _incident(store, "a")
    second_incident = await _incident(store, "b")
    async with store.transaction() as uow:
        first, created = await uow.actions.open_or_existing(_new(first_incident))
        joined, created_again = await uow.actions.open_or_existing(
            _new(second_incident, replicas=8)
        )
        restart, restart_created = await uow.actions.open_or_existing(
            _new(second_incident, ActionVerb.RESTART)
        )
        elsewhere, _ = await uow.actions.open_or_existing(_new(second_incident, target=OTHER))
    assert (created, created_again, restart_created) == (True, False, True)
    assert joined == first
    assert len({first.id, restart.id, elsewhere.id}) == 3
    # Once the first is closed, the same request opens a new row.
    async with store.transaction() as uow:
        await uow.actions.update(first, dataclasses.replace(first, state=ActionState.DENIED))
        fresh, fresh_created = await uow.actions.open_or_existing(_new(second_incident))
        listed = await uow.actions.for_incident(second_incident)
    assert fresh_created
    assert fresh.id not in (first.id, restart.id, elsewhere.id)
    assert [a.id for a in listed] == [restart.id, elsewhere.id, fresh.id]


async def test_a_stale_write_changes_nothing(store: Store) -> None:
    incident = await _incident(store)
    async with store.transaction() as uow:
        action, _ = await uow.actions.open_or_existing(_new(incident))
        won = await uow.actions.update(
            action, dataclasses.replace(action, state=ActionState.APPROVED)
        )
        lost = await uow.actions.update(
            action, dataclasses.replace(action, state=ActionState.DENIED)
        )
        # Right state, stale version: also refused.
        assert won is not None
        stale = dataclasses.replace(won, version=won.version - 1)
        refused = await uow.actions.update(
            stale, dataclasses.replace(won, state=ActionState.EXPIRED)
        )
        current = await uow.actions.get(action.id)
    assert (lost, refused) == (None, None)
    assert current is not None
    assert (current.state, current.version) == (ActionState.APPROVED, 2)


async def test_one_running_action_per_deployment(store: Store) -> None:
    incident = await _incident(store)
    async with store.transaction() as uow:
        scale, _ = await uow.actions.open_or_existing(_new(incident))
        restart, _ = await uow.actions.open_or_existing(_new(incident, ActionVerb.RESTART))
        other, _ = await uow.actions.open_or_existing(_new(incident, target=OTHER))
        running = await uow.actions.update(
            scale, dataclasses.replace(scale, state=ActionState.RUNNING, owner="a")
        )
        assert running is not None
        assert await uow.actions.running_on(LNN) == running
        assert await uow.actions.running_on(OTHER) is None
        await uow.actions.update(other, dataclasses.replace(other, state=ActionState.RUNNING))
    with pytest.raises(Conflict):
        async with store.transaction() as uow:
            await uow.actions.update(
                restart, dataclasses.replace(restart, state=ActionState.RUNNING)
            )
    async with store.transaction() as uow:
        still = await uow.actions.get(restart.id)
        states = await uow.actions.in_states(frozenset({ActionState.RUNNING}))
    assert still is not None
    assert still.state is ActionState.REQUESTED
    assert [a.id for a in states] == [scale.id, other.id]


async def test_only_the_owner_renews_a_lease(store: Store) -> None:
    incident = await _incident(store)
    until = T0 + timedelta(minutes=1)
    async with store.transaction() as uow:
        action, _ = await uow.actions.open_or_existing(_new(incident))
        assert not await uow.actions.renew_lease(action.id, owner="a", until=until)
        running = await uow.actions.update(
            action, dataclasses.replace(action, state=ActionState.RUNNING, owner="a")
        )
        assert await uow.actions.renew_lease(action.id, owner="a", until=until)
        assert not await uow.actions.renew_lease(action.id, owner="b", until=until)
        renewed = await uow.actions.get(action.id)
    assert running is not None
    assert renewed is not None
    assert renewed.lease_until == until
    assert renewed.version == running.version


@pytest.fixture
def env(store: Store, clock: FixedClock, policy: Policy) -> Env:
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    return Env(store, cluster, clock, policy)


async def test_the_whole_flow_leaves_a_chained_timeline(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "scale", replicas=6)).action
    await env.approve(action.id, ALICE)
    done = await env.execute(action.id, BOB)
    assert done.state is ActionState.SUCCEEDED
    assert env.cluster.applied == [("scale", LNN, "6")]
    entries = await env.timeline(incident)
    verify_chain(entries)
    assert [(e.kind, str(e.actor)) for e in entries if e.kind.startswith("action.")] == [
        ("action.requested", "slack:U0MALLORY"),
        ("action.approved", f"slack:{ALICE}"),
        ("action.started", f"slack:{BOB}"),
        ("action.applied", "bot:firebreak"),
        ("action.succeeded", "bot:firebreak"),
    ]


async def test_a_refusal_is_committed_though_the_approval_is_not(env: Env) -> None:
    env.approvers = (BOB,)
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    with pytest.raises(Forbidden, match="not an approver"):
        await env.approve(action.id, ALICE)
    assert (await env.kinds(incident))[-1] == "action.refused"
    assert (await env.action(action.id)).state is ActionState.REQUESTED


async def test_a_crash_after_apply_reconciles_to_one_change(env: Env) -> None:
    incident = await env.incident()
    action = (await env.request(incident, "restart")).action
    await env.approve(action.id)
    env.cluster.crash_after_apply = True
    with pytest.raises(SimulatedCrash):
        await env.execute(action.id)
    env.cluster.crash_after_apply = False
    env.clock.advance(60)
    [settled] = await env.reconcile()
    assert settled.state is ActionState.SUCCEEDED
    assert len(env.cluster.applied) == 1
    verify_chain(await env.timeline(incident))
