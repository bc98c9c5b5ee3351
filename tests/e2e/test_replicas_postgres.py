"""Two real ``firebreak serve`` replicas share one PostgreSQL database and receive the same
Alertmanager deliveries at the same time, as they would behind a load balancer while
Alertmanager retries or an HA pair duplicates. Each replica acknowledges what it stored in the
shared inbox; once the replicas' inbox processors have settled every delivery, the database's
constraints, not either process's memory, must have made every group exactly one incident."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.support.payloads.alertmanager import KINDS
from tests.support.policy_files import default_policy_file
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    FirebreakApi,
    Service,
    firebreak_db_upgrade,
    firebreak_env,
    scrape_metric,
    wait_inbox_processed,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GROUPS = 100
# Each distinct delivery goes this many times to each replica.
COPIES = 3
CONCURRENCY = 48


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Group:
    """One Alertmanager group (keyed by alertname and cluster) with two alerts."""

    def __init__(self, index: int, started: datetime) -> None:
        self.alertname, self.severity_label, self.expected = KINDS[index % len(KINDS)]
        self.cluster = f"c{index:04d}"
        self.key = f'{{}}:{{alertname="{self.alertname}", cluster="{self.cluster}"}}'
        self.started = started

    def _alert(self, instance: str, ended: datetime | None) -> dict[str, Any]:
        return {
            "status": "resolved" if ended else "firing",
            "labels": {
                "alertname": self.alertname,
                "severity": self.severity_label,
                "cluster": self.cluster,
                "instance": instance,
                "service": "lnn-service",
            },
            "annotations": {"summary": f"{self.alertname} in {self.cluster}"},
            "startsAt": _time(self.started),
            "endsAt": _time(ended) if ended else "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1/e2e",
            "fingerprint": f"{self.cluster}{instance}",
        }

    def delivery(self, instances: tuple[str, ...], ended: datetime | None = None) -> bytes:
        """A webhook v4 body exactly as Alertmanager would send it for this group."""
        alerts = [self._alert(i, ended) for i in instances]
        return json.dumps(
            {
                "version": "4",
                "groupKey": self.key,
                "truncatedAlerts": 0,
                "status": "resolved" if ended else "firing",
                "receiver": "firebreak",
                "groupLabels": {"alertname": self.alertname, "cluster": self.cluster},
                "commonLabels": {
                    "alertname": self.alertname,
                    "severity": self.severity_label,
                    "cluster": self.cluster,
                    "service": "lnn-service",
                },
                "commonAnnotations": {},
                "externalURL": "http://127.0.0.1:9093",
                "alerts": alerts,
            }
        ).encode()


async def deliver_concurrently(
    http: aiohttp.ClientSession, replicas: list[Service], bodies: list[bytes]
) -> Counter[int]:
    """Send every body ``COPIES`` times to every replica, shuffled, many at once; the
    response statuses, counted."""
    sends = [(r, b) for b in bodies for r in replicas for _ in range(COPIES)]
    random.Random(2).shuffle(sends)
    gate = asyncio.Semaphore(CONCURRENCY)
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    async def send(replica: Service, body: bytes) -> None:
        async with (
            gate,
            http.post(
                replica.base_url + "/webhooks/alertmanager",
                data=body,
                headers={
                    "Authorization": f"Bearer {ALERTMANAGER_TOKEN}",
                    "Content-Type": "application/json",
                },
            ) as response,
        ):
            statuses[response.status] += 1
            if not 200 <= response.status < 300 and len(failures) < 5:
                failures.append(f"{replica.name}: {response.status} {await response.text()}")

    await asyncio.gather(*(send(r, b) for r, b in sends))
    assert sum(statuses.values()) == len(sends)
    # Every copy is acknowledged (stored in the inbox): a duplicate is not an error.
    assert set(statuses) == {202}, (statuses, failures)
    return statuses


async def settle(
    http: aiohttp.ClientSession, replicas: list[Service], processes: Processes, sent: int
) -> None:
    """Wait until the replicas together have processed all ``sent`` deliveries so far; each
    exactly once, none failed, and none even retried: a race between the replicas is
    resolved inside the bot, not by failing a delivery."""
    counts = await wait_inbox_processed(http, replicas, at_least=sent, context=processes.logs)
    assert counts.accepted == sent, counts
    assert counts.processed == sent, counts
    assert counts.deferred == 0, counts


async def start_replicas(processes: Processes, postgres_url: str, tmp_path: Path) -> list[Service]:
    # A hundred groups for one service would be one storm: this is about one incident per
    # group across replicas, so storm collapse is off.
    env = firebreak_env(postgres_url, FIREBREAK_POLICY=str(default_policy_file(storms=False)))
    # Migrations run once, as a deployment does, never from each replica.
    firebreak_db_upgrade(env, log_path=tmp_path / "db-upgrade.log", cwd=tmp_path)
    return list(
        await asyncio.gather(
            processes.firebreak("replica-a", env=env), processes.firebreak("replica-b", env=env)
        )
    )


def sends(distinct: int, replicas: list[Service]) -> int:
    """How many requests ``deliver_concurrently`` makes for ``distinct`` bodies."""
    return distinct * len(replicas) * COPIES


async def fire_everywhere(
    http: aiohttp.ClientSession, replicas: list[Service], api: FirebreakApi, processes: Processes
) -> tuple[list[Group], dict[str, dict[str, Any]]]:
    """Open every group through both replicas at once; check one incident per group."""
    started = datetime.now(UTC) - timedelta(minutes=5)
    groups = [Group(i, started) for i in range(GROUPS)]
    # Two distinct deliveries per group, as Alertmanager sends when a second alert joins:
    # first one alert, then both. In any order, the group must still be one incident.
    firing = [g.delivery(("a",)) for g in groups] + [g.delivery(("a", "b")) for g in groups]
    await deliver_concurrently(http, replicas, firing)
    await settle(http, replicas, processes, sends(len(firing), replicas))

    incidents = await api.incidents()
    keys = Counter(i["group_key"] for i in incidents)
    assert len(incidents) == GROUPS, (
        f"{len(incidents)} incidents; duplicated: {keys.most_common(3)}"
    )
    assert set(keys) == {g.key for g in groups}
    return groups, {i["group_key"]: i for i in incidents}


class Opened(NamedTuple):
    """Two replicas on one database, after every group opened its incident through both."""

    replicas: list[Service]
    api: FirebreakApi
    groups: list[Group]
    by_key: dict[str, dict[str, Any]]


async def open_every_group(
    processes: Processes, http: aiohttp.ClientSession, postgres_url: str, tmp_path: Path
) -> Opened:
    replicas = await start_replicas(processes, postgres_url, tmp_path)
    api = FirebreakApi(http, replicas[0])
    groups, by_key = await fire_everywhere(http, replicas, api, processes)
    return Opened(replicas, api, groups, by_key)


async def test_two_replicas_receiving_the_same_deliveries_open_one_incident_per_group(
    processes: Processes, http: aiohttp.ClientSession, postgres_url: str, tmp_path: Path
) -> None:
    replicas, api, groups, by_key = await open_every_group(processes, http, postgres_url, tmp_path)
    # Both replicas together report each incident opened exactly once.
    opened = [
        await scrape_metric(http, r.base_url, "firebreak_incidents_opened_total") for r in replicas
    ]
    assert sum(opened) == GROUPS, opened

    for group in groups:
        detail = await api.incident(by_key[group.key]["id"])
        assert detail["severity"] == group.expected, (group.key, detail["severity"])
        assert detail["status"] == "triggered", detail
        # Every alert episode is recorded once, and once on the timeline.
        fingerprints = sorted(a["fingerprint"] for a in detail["alerts"])
        assert fingerprints == [f"{group.cluster}a", f"{group.cluster}b"], detail["alerts"]
        timeline = Counter(e["kind"] for e in detail["timeline"])
        assert timeline["incident.opened"] == 1, detail["timeline"]
        assert timeline["alert.firing"] == 2, detail["timeline"]
        seqs = [e["seq"] for e in detail["timeline"]]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_two_replicas_receiving_the_same_resolutions_resolve_each_incident_once(
    processes: Processes, http: aiohttp.ClientSession, postgres_url: str, tmp_path: Path
) -> None:
    replicas, api, groups, by_key = await open_every_group(processes, http, postgres_url, tmp_path)
    firing_sends = sends(2 * GROUPS, replicas)  # fire_everywhere's two bodies per group

    # Every copy of every group's resolved delivery at once on both replicas: each incident
    # resolves once, each alert's resolution is recorded once, and nothing new opens.
    ended = datetime.now(UTC)
    resolutions = [g.delivery(("a", "b"), ended) for g in groups]
    await deliver_concurrently(http, replicas, resolutions)
    await settle(http, replicas, processes, firing_sends + sends(len(resolutions), replicas))
    resolved = await api.incidents(status="resolved")
    assert len(resolved) == GROUPS, len(resolved)
    assert len(await api.incidents()) == GROUPS
    doubled: list[str] = []
    for group in groups:
        detail = await api.incident(by_key[group.key]["id"])
        assert {a["status"] for a in detail["alerts"]} == {"resolved"}, detail["alerts"]
        timeline = Counter(e["kind"] for e in detail["timeline"])
        assert timeline["incident.resolved"] == 1, detail["timeline"]
        if timeline["alert.resolved"] != 2:
            doubled.append(f"{group.key}: {timeline['alert.resolved']} alert.resolved")
    assert not doubled, f"{len(doubled)} of {GROUPS} timelines: {doubled[:5]}"
