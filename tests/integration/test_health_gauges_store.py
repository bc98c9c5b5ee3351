"""The read-only counts behind firebreak's own gauges (``HealthRepository``), alike on the
in-memory fake, SQLite and PostgreSQL, and the one transaction ``/metrics`` reads them in."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.domain.action import ActionRequest, ActionState, ActionVerb, NewAction
from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.outbox import OutboundCall
from bot.domain.target import Target
from bot.ports import InboxBacklog, Store
from bot.services.health_gauges import read_health
from handlers.slack.actor import slack_actor
from tests.support.actions import ALICE
from tests.support.store_builders import T0, at, new_incident


def _call(key: str) -> OutboundCall:
    return OutboundCall(ordering_key=key, method="chat.postMessage", args={"text": key})


async def _outbox_in_every_state(store: Store) -> None:
    """Rows added at T0 (and one at T0+20 s), then taken through the worker's transitions."""
    async with store.transaction() as uow:
        failing = await uow.outbox.add(_call("failing"), at=at(0))
        limited = await uow.outbox.add(_call("limited"), at=at(0))
        gave_up = await uow.outbox.add(_call("gave-up"), at=at(0))
        sent = await uow.outbox.add(_call("sent"), at=at(0))
        await uow.outbox.add(_call("fresh"), at=at(20))
    async with store.transaction() as uow:
        claimed = await uow.outbox.claim(worker="w", now=at(1), lease_seconds=60, limit=10)
        assert len(claimed) == 4
        assert await uow.outbox.reschedule(
            failing.id, worker="w", not_before=at(10), error="http 500"
        )
        assert await uow.outbox.reschedule(
            limited.id, worker="w", not_before=at(100), error="ratelimited: chat.postMessage"
        )
        assert await uow.outbox.mark_failed(
            gave_up.id, worker="w", at=at(2), error="not_in_channel"
        )
        assert await uow.outbox.mark_sent(sent.id, at=at(2), result={"ok": True})


async def test_an_empty_database_reads_as_nothing_waiting(store: Store) -> None:
    async with store.transaction() as uow:
        outbox = await uow.health.outbox_health(now=at(0))
        actions = await uow.health.running_actions(started_before=at(0))
    assert outbox == OutboxHealth(pending=0, retrying=0, failed=0, oldest_due_at=None)
    assert outbox.oldest_due_age(at(60)) == 0
    assert actions == RunningActions(running=0, overdue=0, oldest_started_at=None)
    assert actions.oldest_age(at(60)) == 0


async def test_the_outbox_counts_pending_retrying_failed_and_the_longest_due(store: Store) -> None:
    await _outbox_in_every_state(store)
    async with store.transaction() as uow:
        health = await uow.health.outbox_health(now=at(50))
    # Pending: failing (retry due at 10 s), limited (waits until 100 s), fresh (due at 20 s).
    # Retrying: only failing; a rate limit is a wait Slack asked for, not a failed attempt.
    assert (health.pending, health.retrying, health.failed) == (3, 1, 1)
    assert health.oldest_due_at == at(10)
    assert health.oldest_due_age(at(50)) == 40


async def test_a_row_not_yet_due_is_not_the_longest_due(store: Store) -> None:
    await _outbox_in_every_state(store)
    async with store.transaction() as uow:
        early = await uow.health.outbox_health(now=at(5))
        after_the_limit = await uow.health.outbox_health(now=at(100))
    assert early.oldest_due_at is None, "at 5 s failing waits for 10 s and fresh is not added"
    assert after_the_limit.oldest_due_at == at(10)
    assert after_the_limit.pending == 3


async def _running(store: Store, deployment: str, started_after: float) -> ActionRequest:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key=deployment))
        action, _ = await uow.actions.open_or_existing(
            NewAction(
                incident_id=incident.id,
                verb=ActionVerb.RESTART,
                target=Target("firebreak", deployment),
                requested_by=slack_actor(ALICE),
                requested_at=T0,
                expires_at=T0 + timedelta(minutes=10),
            )
        )
        running = await uow.actions.update(
            action,
            dataclasses.replace(
                action,
                state=ActionState.RUNNING,
                owner="w",
                lease_until=at(started_after + 60),
                started_at=at(started_after),
            ),
        )
    assert running is not None
    return running


async def test_running_actions_started_before_the_cut_off_are_overdue(store: Store) -> None:
    await _running(store, "lnn-service", started_after=0)
    await _running(store, "other", started_after=500)
    finished = await _running(store, "done", started_after=-1000)
    async with store.transaction() as uow:
        await uow.actions.update(
            finished, dataclasses.replace(finished, state=ActionState.SUCCEEDED)
        )
        # At 700 s with a 600 s deadline: the first (started at 0 s) is overdue.
        actions = await uow.health.running_actions(started_before=at(100))
    assert actions == RunningActions(running=2, overdue=1, oldest_started_at=at(0))
    assert actions.oldest_age(at(700)) == 700


async def test_metrics_read_the_three_in_one_transaction(store: Store) -> None:
    await _outbox_in_every_state(store)
    await _running(store, "lnn-service", started_after=0)
    readings = await read_health(store, now=at(700), rollout_deadline=600)
    assert readings.inbox == InboxBacklog(0, None)
    assert readings.outbox.pending == 3
    assert readings.actions == RunningActions(running=1, overdue=1, oldest_started_at=at(0))
    sooner = await read_health(store, now=at(599), rollout_deadline=600)
    assert sooner.actions.overdue == 0
