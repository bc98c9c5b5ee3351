"""Two real ``firebreak serve`` processes on one database (PostgreSQL, and one SQLite file):
an alert posted to one appears on the live streams of both; a client that drops its stream
on one and reconnects to the other with ``Last-Event-ID`` gets exactly what it missed, checked
against a stream that never dropped and against the API; and stopping a replica ends its
streams instead of waiting for them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    API_TOKEN,
    FirebreakApi,
    Service,
    firebreak_db_upgrade,
    firebreak_env,
    wait_inbox_processed,
)
from tests.support.sse import SseEvent, SseStream, open_stream

pytestmark = pytest.mark.slow

API = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def replicas(
    request: pytest.FixtureRequest, processes: Processes, tmp_path: Path
) -> list[Service]:
    if request.param == "sqlite":
        env = firebreak_env(f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")
        # Each migrates the file it serves: one after the other, as a restart would.
        first = await processes.firebreak("replica-a", env=env)
        return [first, await processes.firebreak("replica-b", env=env)]
    url: str = request.getfixturevalue("postgres_url")
    env = firebreak_env(url)
    firebreak_db_upgrade(env, log_path=tmp_path / "db-upgrade.log", cwd=tmp_path)
    return [
        await processes.firebreak("replica-a", env=env),
        await processes.firebreak("replica-b", env=env),
    ]


GROUPS = {
    "down": ('{}:{alertname="LNNServiceDown"}', alert("LNNServiceDown", "critical", pod="p0")),
    "slow": ('{}:{alertname="LNNHighLatency"}', alert("LNNHighLatency", "critical", pod="p1")),
}


async def post(http: aiohttp.ClientSession, replica: Service, payload: dict[str, Any]) -> None:
    async with http.post(
        replica.base_url + "/webhooks/alertmanager",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
    ) as response:
        assert response.status == 202, await response.text()


async def fire(http: aiohttp.ClientSession, replica: Service, name: str) -> None:
    key, firing = GROUPS[name]
    await post(http, replica, webhook(key, [firing]))


async def resolve(http: aiohttp.ClientSession, replica: Service, name: str) -> None:
    key, firing = GROUPS[name]
    await post(http, replica, webhook(key, [resolved(firing, T0 + timedelta(minutes=1))]))


async def events_stream(
    http: aiohttp.ClientSession, replica: Service, last_event_id: str | None = None
) -> SseStream:
    headers = dict(API)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return await open_stream(http, replica.base_url + "/api/events", headers=headers)


def keys(events: list[SseEvent]) -> list[tuple[int, int]]:
    return [(e.json()["incident_id"], e.json()["seq"]) for e in events]


def entries(events: list[SseEvent]) -> list[tuple[Any, ...]]:
    fields = ("id", "incident_id", "seq", "kind", "at", "actor", "text")
    return [(e.number, *(e.json()[f] for f in fields)) for e in events]


def opened(name: str) -> Any:
    return lambda d: d["kind"] == "incident.opened" and name in d["text"]


async def everything_recorded(api: FirebreakApi) -> set[tuple[int, int]]:
    """Every timeline entry of every incident, by (incident, seq), from the API."""
    entries: set[tuple[int, int]] = set()
    for incident in await api.incidents(limit="1000"):
        detail = await api.incident(incident["id"])
        entries |= {(incident["id"], e["seq"]) for e in detail["timeline"]}
    return entries


async def test_an_alert_on_one_replica_streams_from_both_and_a_reconnect_gets_what_it_missed(
    replicas: list[Service], processes: Processes, http: aiohttp.ClientSession
) -> None:
    a, b = replicas
    # A stream on each replica, and one on A that never drops: the reference.
    on_b = await events_stream(http, b)
    reference = await events_stream(http, a)

    await fire(http, a, "down")
    seen_on_b = await on_b.until(opened("LNNServiceDown"))
    seen_on_a = await reference.until(opened("LNNServiceDown"))
    # The same entry, under the same id, from both processes.
    assert seen_on_b[-1] == seen_on_a[-1]
    on_b.close()
    last = seen_on_b[-1]

    # While the client is away: the other replica opens an incident, this one resolves.
    await fire(http, b, "slow")
    await resolve(http, a, "down")
    await wait_inbox_processed(http, replicas, at_least=3, context=processes.logs)

    # The reference has every entry the API shows (it never dropped); the client that
    # reconnected to the other replica gets exactly the rest of it, nothing twice.
    recorded = await everything_recorded(FirebreakApi(http, b))
    whole = [*seen_on_a]
    while not recorded <= set(keys(whole)):
        whole += await reference.take(1)
    assert len(set(keys(whole))) == len(whole)
    again = await events_stream(http, a, last_event_id=last.id)
    rest = await again.until(lambda d: d["id"] == whole[-1].number)
    # The entries themselves; status and severity are the incident's when each was read.
    assert entries([*seen_on_b, *rest]) == entries(whole)
    again.close()
    reference.close()

    # Stopping a replica with a stream open ends the stream; the process exits by itself.
    open_on_b = await events_stream(http, b)
    b.stop()
    assert b.process.returncode == 0, b.describe()
    assert await open_on_b.rest() == []
    assert open_on_b.ended
