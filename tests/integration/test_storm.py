"""An alert storm over real HTTP against the real app and store, on SQLite and PostgreSQL.

A thousand Alertmanager groups fire at once. As Alertmanager does when alerts join a group,
a group with several alerts is delivered twice (first its first alert, then all of them), and
every delivery arrives several times (retries, an HA pair), all shuffled and concurrent. Every
sender must be acknowledged (202, each receipt its own inbox row); once the app's inbox
processor has worked through the backlog, the database must hold exactly one incident per
group, each alert episode once, and every receipt processed exactly once, in arrival order."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.domain.incident import AlertStatus, IncidentFilter, IncidentStatus
from bot.domain.timeline import verify_chain
from bot.policy.model import Policy
from db.migrate import upgrade_async
from db.store import SqlStore
from db.tables import deliveries
from tests.support.bot_app import AM_AUTH, bot_app, process_inbox
from tests.support.payloads.alertmanager import KINDS, alert, webhook

pytestmark = pytest.mark.slow

GROUPS = 1_000
# Every distinct delivery is sent this many times: Alertmanager retries and HA pairs.
COPIES = 3
# More in flight than the PostgreSQL pool has connections (20) and far more than SQLite's one
# writer, so requests queue and duplicates race; few enough that on a busy 2-core runner no
# request waits out the pool's 10 s checkout timeout (a 503, which this test would count).
CONCURRENCY = 32
# One request may wait behind the whole queue on SQLite's single writer; the storm as a whole
# must still finish, so a hang fails instead of running into pytest's timeout.
REQUEST_TIMEOUT_S = 60.0
STORM_TIMEOUT_S = 240.0

MakeServer = Callable[[web.Application], Awaitable[TestServer]]


@dataclass
class Group:
    """One Alertmanager group and the deliveries it causes."""

    key: str
    alerts: list[dict[str, Any]]
    bodies: list[bytes] = field(default_factory=list)

    @property
    def fingerprints(self) -> set[str]:
        return {a["fingerprint"] for a in self.alerts}

    @property
    def severity(self) -> str:
        # "P0" < "P1" < "P2", and the incident takes its worst alert's severity.
        return min(KINDS[_kind(a)][2] for a in self.alerts)


def _kind(a: dict[str, Any]) -> int:
    return next(i for i, k in enumerate(KINDS) if k[0] == a["labels"]["alertname"])


def make_groups() -> list[Group]:
    groups = []
    for index in range(GROUPS):
        # One to three alerts, with mixed severities, so that a later delivery of the group
        # may raise the incident's severity and the order of arrival matters.
        alerts = []
        for j in range(1 + index % 3):
            name, label, _ = KINDS[(index + 2 * j) % len(KINDS)]
            alerts.append(alert(name, label, group=f"g{index:04d}", instance=f"i{j}"))
        group = Group(key=f'{{}}:{{group="g{index:04d}"}}', alerts=alerts)
        # Alertmanager notifies when a group first fires and again when it grows; the
        # largest groups grow here, so a later (or earlier) delivery raises the severity.
        if len(alerts) == 3:
            group.bodies.append(json.dumps(webhook(group.key, alerts[:1])).encode())
        group.bodies.append(json.dumps(webhook(group.key, alerts)).encode())
        groups.append(group)
    return groups


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # The delivery key of every acknowledgement.
    accepted: list[str] = field(default_factory=list)


async def storm(base_url: str, bodies: list[bytes]) -> Outcome:
    """POST every body, at most ``CONCURRENCY`` at a time, within ``STORM_TIMEOUT_S``."""
    outcome = Outcome()
    gate = asyncio.Semaphore(CONCURRENCY)
    headers = {**AM_AUTH, "Content-Type": "application/json"}

    async def send(http: aiohttp.ClientSession, body: bytes) -> None:
        async with gate, http.post(base_url + "/webhooks/alertmanager", data=body) as resp:
            text = await resp.text()
            outcome.statuses[resp.status] += 1
            if not 200 <= resp.status < 300:
                outcome.failures.append(f"{resp.status}: {text[:200]}")
                return
            answer = json.loads(text)
            assert answer["status"] == "accepted", answer
            outcome.accepted.append(answer["delivery"])

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http,
        asyncio.timeout(STORM_TIMEOUT_S),
        asyncio.TaskGroup() as tasks,
    ):
        for body in bodies:
            tasks.create_task(send(http, body))
    return outcome


async def test_storm_of_1000_groups_makes_exactly_1000_incidents(
    aiohttp_server: MakeServer, database_url: str, policy: Policy
) -> None:
    # `serve` migrates SQLite itself; PostgreSQL deployments run `firebreak db upgrade`.
    await upgrade_async(database_url)
    # A real listening socket on loopback (port 0), so requests go through the kernel and
    # aiohttp's server exactly as Alertmanager's would.
    server = await aiohttp_server(bot_app(database_url, policy))
    groups = make_groups()
    sends = [body for g in groups for body in g.bodies for _ in range(COPIES)]
    random.Random(1000).shuffle(sends)

    outcome = await storm(str(server.make_url("")).rstrip("/"), sends)

    assert not outcome.failures, f"{len(outcome.failures)} non-2xx, e.g. {outcome.failures[:5]}"
    assert sum(outcome.statuses.values()) == len(sends), outcome.statuses
    assert set(outcome.statuses) == {202}, outcome.statuses
    # Every receipt is acknowledged as its own inbox row.
    assert len(set(outcome.accepted)) == len(sends)

    # The app's processor has been working through the inbox during the storm; let it finish.
    await process_inbox(server.app)
    await check_database(database_url, groups, accepted=outcome.accepted)
    # The metrics agree: every receipt acknowledged and processed, each incident opened once.
    async with aiohttp.ClientSession() as http:
        metrics = await scrape(http, str(server.make_url("/metrics")))
    assert metrics[("firebreak_deliveries_total", "accepted")] == len(sends)
    assert metrics[("firebreak_inbox_processed_total", "processed")] == len(sends)
    assert metrics[("firebreak_inbox_lag_seconds_count", "")] == len(sends)
    assert metrics[("firebreak_incidents_opened_total", "")] == GROUPS


async def scrape(http: aiohttp.ClientSession, url: str) -> Counter[tuple[str, str]]:
    """Alertmanager samples summed by (name, outcome label or "")."""
    async with http.get(url) as resp:
        text = await resp.text()
    totals: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("source") == "alertmanager":
                totals[(sample.name, sample.labels.get("outcome", ""))] += int(sample.value)
    return totals


async def check_database(url: str, groups: list[Group], *, accepted: list[str]) -> None:
    store = SqlStore.from_url(url)
    try:
        # Persist, then acknowledge: every acknowledged receipt is a row in the inbox, and
        # every row was processed (none pending, deferred, failed or ignored).
        async with store.engine.connect() as conn:
            c = deliveries.c
            rows = (await conn.execute(select(c.key, c.body, c.outcome).order_by(c.id))).all()
        assert sorted(row.key for row in rows) == sorted(accepted)
        assert Counter(row.outcome for row in rows) == {"processed": len(accepted)}
        repeats = expected_repeats(groups, [bytes(row.body) for row in rows])

        async with store.transaction() as uow:
            incidents = await uow.incidents.list(IncidentFilter(limit=10 * GROUPS))
            assert len(incidents) == len(groups)
            by_key = {i.group_key: i for i in incidents}
            assert set(by_key) == {g.key for g in groups}, "an incident per group, no other"
            for group in groups:
                incident = by_key[group.key]
                assert incident.status is IncidentStatus.TRIGGERED
                assert incident.severity.value == group.severity, group.key
                episodes = await uow.alerts.for_incident(incident.id)
                fingerprints = [e.fingerprint for e in episodes]
                assert sorted(fingerprints) == sorted(group.fingerprints), group.key
                assert all(e.status is AlertStatus.FIRING for e in episodes)
                timeline = await uow.timeline.for_incident(incident.id)
                verify_chain(timeline)
                kinds = Counter(e.kind for e in timeline)
                assert kinds["incident.opened"] == 1, group.key
                # Each episode has one firing entry; every other receipt is a repeat, so each
                # receipt had its effect exactly once.
                assert kinds["alert.firing"] == len(group.alerts), group.key
                assert kinds["alert.repeat"] == repeats[group.key], group.key
    finally:
        await store.close()


def expected_repeats(groups: list[Group], bodies_in_arrival_order: list[bytes]) -> dict[str, int]:
    """Replay the inbox in arrival order: a receipt that adds no new alert is a repeat."""
    group_of = {body: g for g in groups for body in g.bodies}
    seen: dict[str, set[str]] = {g.key: set() for g in groups}
    repeats = dict.fromkeys(seen, 0)
    for body in bodies_in_arrival_order:
        group = group_of[body]
        fingerprints = {a["fingerprint"] for a in json.loads(body)["alerts"]}
        if fingerprints <= seen[group.key]:
            repeats[group.key] += 1
        seen[group.key] |= fingerprints
    return repeats
