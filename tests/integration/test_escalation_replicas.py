"""Two real processes on one PostgreSQL fire every due escalation level once between them."""

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
from bot.domain.incident import Severity
from bot.policy.model import Policy
from bot.services.incidents.declare import declare_incident
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of
from tests.support.outbox import wait_until
from tests.support.processes import spawn, stop_process, tail
from tests.support.sql_store import migrated_store

REPO = Path(__file__).resolve().parents[2]
INCIDENTS = 12
LEVELS = 4  # the P0 path: on-call, secondary, team lead, manager

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
        for incident in incidents:
            levels = Counter(
                e.body["level"]
                for e in await entries_of(sql, incident.id, EventKind.ESCALATION_FIRED)
            )
            assert levels == Counter(range(LEVELS)), incident.id
            overdue = await entries_of(sql, incident.id, EventKind.RESPONSE_OVERDUE)
            assert len(overdue) == 1, incident.id
            statuses = {t.status for t in await timers_of(sql, incident.id)}
            assert statuses == {TimerStatus.FIRED}, incident.id
