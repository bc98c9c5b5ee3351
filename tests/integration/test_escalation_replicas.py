"""Two real processes on one PostgreSQL fire every due escalation level once between them,
until none is due; and the worker's read of due timers never holds up an acknowledgement."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import TimerStatus
from bot.domain.events import EventKind
from bot.domain.incident import IncidentStatus, Severity
from bot.policy.model import Policy
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.updates import acknowledge
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of
from tests.support.outbox import wait_until
from tests.support.processes import spawn, stop_process, tail
from tests.support.sql_store import migrated_store

REPO = Path(__file__).resolve().parents[2]
INCIDENTS = 12
LEVELS = 4  # the P0 path: on-call, secondary, team lead, manager
ACK_BOUND_S = 30.0

pytestmark = pytest.mark.postgres


async def test_two_processes_fire_each_level_once_between_them(
    postgres_url: str, policy: Policy, clock: FixedClock, tmp_path: Path
) -> None:
    paths = escalation_policy(policy)
    async with migrated_store(postgres_url) as sql:
        store = escalating_store(sql, paths, clock)
        incidents = [
            await declare_incident(
                store,
                paths,
                title=f"down {n}",
                actor=Actor("slack", "U0A"),
                at=clock.now(),
                severity=Severity.P0,
            )
            for n in range(INCIDENTS)
        ]
        # Both replicas see the same moment: two hours on, every level and target is due.
        now = clock.now() + timedelta(hours=2)
        env = {
            "FIREBREAK_DATABASE_URL": postgres_url,
            "ESCALATION_TEST_NOW": now.isoformat(),
            "ESCALATION_TEST_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
            "PYTHONUNBUFFERED": "1",
        }
        argv = [sys.executable, "-m", "tests.support.escalation_process"]
        names = ("replica-a", "replica-b")
        logs = {name: tmp_path / f"{name}.log" for name in names}
        processes = {
            name: spawn(
                argv, env={**env, "ESCALATION_TEST_NAME": name}, log_path=logs[name], cwd=REPO
            )
            for name in names
        }
        try:

            async def ready() -> bool:
                for name, process in processes.items():
                    assert process.poll() is None, tail(logs[name])
                return all((tmp_path / f"{name}.ready").exists() for name in names)

            await wait_until(ready, timeout=60)
            (tmp_path / "go").touch()
            for name, process in processes.items():
                code = await asyncio.to_thread(process.wait, 120)
                assert code == 0, tail(logs[name])
        finally:
            for process in processes.values():
                stop_process(process, 5)

        fired = [int((tmp_path / f"{name}.fired").read_text()) for name in names]
        # Every level and every response target of every incident, once in all.
        assert sum(fired) == INCIDENTS * (LEVELS + 1)
        async with sql.transaction() as uow:
            assert await uow.escalations.claim_due(now=now, limit=1000) == []
        for incident in incidents:
            levels = Counter(
                e.body["level"]
                for e in await entries_of(sql, incident.id, EventKind.ESCALATION_FIRED)
            )
            assert levels == Counter(range(LEVELS)), incident.id
            overdue = await entries_of(sql, incident.id, EventKind.RESPONSE_OVERDUE)
            assert len(overdue) == 1, incident.id
            timers = await timers_of(sql, incident.id)
            assert len(timers) == LEVELS + 1, incident.id
            assert {t.status for t in timers} == {TimerStatus.FIRED}, incident.id


async def test_a_worker_reading_due_timers_does_not_hold_up_an_acknowledgement(
    postgres_url: str, policy: Policy, clock: FixedClock
) -> None:
    """The worker's order, step by step through the ports: read the due timers, lock the
    incident, fire the timer conditionally. An acknowledgement (which locks the incident,
    then cancels its timers) between the read and the lock goes through at once, and the
    worker then fires nothing. Had the read locked the timers, the acknowledgement would
    wait on them while the worker waited on the incident: PostgreSQL's deadlock."""
    paths = escalation_policy(policy)
    async with migrated_store(postgres_url) as sql:
        store = escalating_store(sql, paths, clock)
        incident = await declare_incident(
            store,
            paths,
            title="down",
            actor=Actor("slack", "U0A"),
            at=clock.now(),
            severity=Severity.P0,
        )
        clock.advance(20 * 60)
        async with sql.transaction() as worker:
            due = await worker.escalations.claim_due(now=clock.now(), limit=50)
            assert {t.incident_id for t in due} == {incident.id}
            # A bound so a regression fails instead of hanging; not a timing assertion.
            await asyncio.wait_for(
                acknowledge(store, incident.id, actor=Actor("slack", "U0B"), at=clock.now()),
                timeout=ACK_BOUND_S,
            )
            locked = await worker.incidents.get(incident.id, for_update=True)
            assert locked is not None
            assert locked.status is IncidentStatus.ACKNOWLEDGED
            for timer in due:
                assert not await worker.escalations.mark_fired(timer.id, at=clock.now())
        statuses = {(t.status, t.cancelled_reason) for t in await timers_of(sql, incident.id)}
        assert (TimerStatus.CANCELLED, "acknowledged") in statuses
        assert all(status is not TimerStatus.PENDING for status, _ in statuses)
        assert await entries_of(sql, incident.id, EventKind.ESCALATION_FIRED) == []
