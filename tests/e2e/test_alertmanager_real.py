"""A real Alertmanager (the Debian package) notifies a real ``firebreak serve``.

Alerts are posted to Alertmanager's API as Prometheus would; Alertmanager groups them by
alertname and delivers webhook v4 notifications to the bot with a bearer token. The bot
acknowledges each one once it is stored in its inbox and processes it right after, so the
tests read the bot's incidents API and metrics by polling until the expected state (and, where
they count, until every acknowledged delivery is processed). Every wait is a poll with a
deadline; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import Processes
from tests.support.postgres import connect
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    AlertSpec,
    Cluster,
    FirebreakApi,
    Service,
    Timing,
    alertmanager_config,
    cluster_peers,
    firebreak_db_upgrade,
    firebreak_env,
    free_port,
    poll_until,
    post_alerts,
    require_binary,
    scrape_metric,
    wait_inbox_processed,
)

pytestmark = [pytest.mark.slow, pytest.mark.binary]

# The default policy's three severities, one alert group each: alertname -> (severity label,
# expected incident severity).
DEFAULT_GROUPS: dict[str, tuple[str, str]] = {
    "LNNServiceDown": ("critical", "P0"),
    "LNNHighLatency": ("critical", "P1"),
    "LNNHighMemory": ("warning", "P2"),
}
WAIT_S = 60.0


@pytest.fixture(autouse=True)
def _alertmanager_installed() -> None:
    """Check before starting anything: fail under CI=true when missing, else skip."""
    require_binary("prometheus-alertmanager")


def lnn_alerts(instances: Sequence[str] = ("lnn-0",)) -> list[AlertSpec]:
    """One alert per default group and instance, started a minute ago."""
    started = datetime.now(UTC) - timedelta(minutes=1)
    return [
        AlertSpec(
            labels={
                "alertname": name,
                "severity": severity,
                "service": "lnn-service",
                "instance": instance,
            },
            starts_at=started,
            summary=f"{name} on {instance}",
        )
        for name, (severity, _) in DEFAULT_GROUPS.items()
        for instance in instances
    ]


def by_alertname(incidents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Incidents keyed by their group's alertname; fails if two share one."""
    names = Counter(i["labels"].get("alertname") for i in incidents)
    assert all(n == 1 for n in names.values()), f"several incidents for one group: {names}"
    return {i["labels"]["alertname"]: i for i in incidents}


def kinds(detail: dict[str, Any]) -> Counter[str]:
    return Counter(entry["kind"] for entry in detail["timeline"])


async def wait_incidents(
    api: FirebreakApi, count: int, processes: Processes, **query: str
) -> list[dict[str, Any]]:
    """Poll until the API lists at least ``count`` incidents (matching ``query``)."""

    async def enough() -> list[dict[str, Any]] | None:
        incidents = await api.incidents(**query)
        return incidents if len(incidents) >= count else None

    return await poll_until(
        enough, timeout=WAIT_S, what=f"{count} incidents {query}", context=processes.logs
    )


def assert_default_severities(incidents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert len(incidents) == len(DEFAULT_GROUPS), json.dumps(incidents, indent=1)
    named = by_alertname(incidents)
    assert {name: i["severity"] for name, i in named.items()} == {
        name: expected for name, (_, expected) in DEFAULT_GROUPS.items()
    }
    # Each incident is keyed by the group key Alertmanager computed for group_by alertname.
    for name, incident in named.items():
        assert f'alertname="{name}"' in incident["group_key"], incident
    return named


class Setup:
    """A bot on the given database and one Alertmanager pointed at it."""

    def __init__(self, bot: Service, alertmanager: Service, api: FirebreakApi) -> None:
        self.bot = bot
        self.alertmanager = alertmanager
        self.api = api


async def bot_and_alertmanager(
    processes: Processes,
    http: aiohttp.ClientSession,
    database_url: str,
    timing: Timing,
) -> Setup:
    bot = await processes.firebreak("firebreak", env=firebreak_env(database_url))
    config = alertmanager_config(
        bot.base_url + "/webhooks/alertmanager", ALERTMANAGER_TOKEN, timing
    )
    alertmanager = await processes.alertmanager("alertmanager", config_text=config)
    return Setup(bot, alertmanager, FirebreakApi(http, bot))


async def test_three_groups_become_three_incidents_with_the_default_severities(
    processes: Processes, http: aiohttp.ClientSession, sqlite_url: str
) -> None:
    setup = await bot_and_alertmanager(processes, http, sqlite_url, Timing())
    await post_alerts(http, setup.alertmanager, (a.firing() for a in lnn_alerts()))

    incidents = await wait_incidents(setup.api, len(DEFAULT_GROUPS), processes)
    named = assert_default_severities(incidents)
    for name, incident in named.items():
        assert incident["status"] == "triggered", incident
        detail = await setup.api.incident(incident["id"])
        # The alert that Alertmanager delivered is attached, with its labels intact.
        assert [a["labels"]["alertname"] for a in detail["alerts"]] == [name]
        assert detail["alerts"][0]["status"] == "firing"
        assert kinds(detail)["incident.opened"] == 1, detail["timeline"]
    # Once every delivery is processed, the bot has counted one opened incident per severity.
    await wait_inbox_processed(
        http, [setup.bot], at_least=len(DEFAULT_GROUPS), context=processes.logs
    )
    for _, expected in DEFAULT_GROUPS.values():
        opened = await setup.api.metric(
            "firebreak_incidents_opened_total", severity=expected, source="alertmanager"
        )
        assert opened == 1, (expected, opened)


async def test_resent_groups_add_no_incident(
    processes: Processes, http: aiohttp.ClientSession, sqlite_url: str
) -> None:
    # A repeat interval of a few seconds makes Alertmanager re-send each unchanged group.
    timing = Timing(group_wait="1s", group_interval="1s", repeat_interval="2s")
    setup = await bot_and_alertmanager(processes, http, sqlite_url, timing)
    alerts = lnn_alerts()
    await post_alerts(http, setup.alertmanager, (a.firing() for a in alerts))
    first = assert_default_severities(
        await wait_incidents(setup.api, len(DEFAULT_GROUPS), processes)
    )
    # Prometheus re-posts firing alerts on every evaluation; the same alerts again must not
    # look new to either Alertmanager or the bot.
    await post_alerts(http, setup.alertmanager, (a.firing() for a in alerts))

    async def every_group_repeated() -> dict[int, dict[str, Any]] | None:
        details = {i["id"]: await setup.api.incident(i["id"]) for i in first.values()}
        if all(kinds(d)["alert.repeat"] >= 1 for d in details.values()):
            return details
        return None

    details = await poll_until(
        every_group_repeated,
        timeout=WAIT_S,
        what="an alert.repeat timeline entry on every incident",
        context=processes.logs,
    )
    # Repeats reached the bot as deliveries of their own, each processed, none opening an
    # incident.
    counts = await wait_inbox_processed(
        http, [setup.bot], at_least=2 * len(DEFAULT_GROUPS), context=processes.logs
    )
    assert counts.processed >= 2 * len(DEFAULT_GROUPS), counts
    after = await setup.api.incidents()
    assert sorted(i["id"] for i in after) == sorted(i["id"] for i in first.values()), after
    for detail in details.values():
        counted = kinds(detail)
        assert counted["incident.opened"] == 1, detail["timeline"]
        assert counted["alert.firing"] == 1, detail["timeline"]
        assert len(detail["alerts"]) == 1, detail["alerts"]
        assert detail["status"] == "triggered", detail


async def test_resolving_the_alerts_resolves_the_incidents(
    processes: Processes, http: aiohttp.ClientSession, sqlite_url: str
) -> None:
    setup = await bot_and_alertmanager(processes, http, sqlite_url, Timing())
    # Two instances per group, so an incident can be seen to stay open while one still fires.
    alerts = lnn_alerts(instances=("lnn-0", "lnn-1"))
    await post_alerts(http, setup.alertmanager, (a.firing() for a in alerts))

    async def all_alerts_attached() -> list[dict[str, Any]] | None:
        incidents = await setup.api.incidents()
        if len(incidents) < len(DEFAULT_GROUPS):
            return None
        details = [await setup.api.incident(i["id"]) for i in incidents]
        return details if all(len(d["alerts"]) == 2 for d in details) else None

    named = assert_default_severities(
        await poll_until(
            all_alerts_attached,
            timeout=WAIT_S,
            what="three incidents with two alerts each",
            context=processes.logs,
        )
    )

    # Resolve everything except LNNServiceDown on lnn-1.
    still_firing = next(
        a
        for a in alerts
        if a.labels["alertname"] == "LNNServiceDown" and a.labels["instance"] == "lnn-1"
    )
    now = datetime.now(UTC)
    await post_alerts(
        http, setup.alertmanager, (a.resolved(now) for a in alerts if a is not still_firing)
    )
    down_id = named["LNNServiceDown"]["id"]

    async def partly_resolved() -> dict[str, Any] | None:
        others = [
            await setup.api.incident(named[n]["id"]) for n in ("LNNHighLatency", "LNNHighMemory")
        ]
        down = await setup.api.incident(down_id)
        if all(o["status"] == "resolved" for o in others) and kinds(down)["alert.resolved"] >= 1:
            return down
        return None

    down = await poll_until(
        partly_resolved,
        timeout=WAIT_S,
        what="P1 and P2 resolved and one P0 alert resolved",
        context=processes.logs,
    )
    # The bot has seen one of LNNServiceDown's alerts resolve, but the other still fires.
    assert down["status"] != "resolved", down
    assert sorted(a["status"] for a in down["alerts"]) == ["firing", "resolved"], down["alerts"]

    await post_alerts(http, setup.alertmanager, [still_firing.resolved(datetime.now(UTC))])
    resolved = await wait_incidents(setup.api, len(DEFAULT_GROUPS), processes, status="resolved")
    assert_default_severities(resolved)
    # Resolution opened nothing new, and every alert of every incident ended resolved.
    assert len(await setup.api.incidents()) == len(DEFAULT_GROUPS)
    for incident in resolved:
        detail = await setup.api.incident(incident["id"])
        assert {a["status"] for a in detail["alerts"]} == {"resolved"}, detail["alerts"]
        assert detail["resolved_at"] is not None, detail
        assert kinds(detail)["incident.resolved"] == 1, detail["timeline"]

    # The same group firing again within the policy's flap window (10 min) reopens the same
    # incident as a flap instead of opening another.
    again = AlertSpec(labels=still_firing.labels, starts_at=datetime.now(UTC), summary="again")
    await post_alerts(http, setup.alertmanager, [again.firing()])
    reopened = await wait_incidents(setup.api, 1, processes, status="open")
    assert [i["id"] for i in reopened] == [down_id], reopened
    assert reopened[0]["flap_count"] == 1, reopened
    assert reopened[0]["severity"] == "P0", reopened
    assert len(await setup.api.incidents()) == len(DEFAULT_GROUPS)
    assert kinds(await setup.api.incident(down_id))["incident.flapped"] == 1


async def _admin(postgres_url: str) -> asyncpg.Connection:
    """A connection to the server's maintenance database (not the one under test)."""
    return await connect(postgres_url, database="postgres")


@pytest.mark.postgres
async def test_a_bot_answering_503_for_a_while_gets_every_group_once_it_recovers(
    processes: Processes, http: aiohttp.ClientSession, postgres_url: str, tmp_path: Path
) -> None:
    env = firebreak_env(postgres_url)
    firebreak_db_upgrade(env, log_path=tmp_path / "db-upgrade.log", cwd=tmp_path)
    setup = await bot_and_alertmanager(processes, http, postgres_url, Timing())
    database = make_url(postgres_url).database
    assert database

    admin = await _admin(postgres_url)
    try:
        # Make the bot's database refuse connections and drop the ones it pooled.
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )

        async def not_ready() -> bool | None:
            async with http.get(setup.bot.base_url + "/readyz") as response:
                return True if response.status == 503 else None

        await poll_until(not_ready, timeout=WAIT_S, what="/readyz 503", context=processes.logs)

        # An authenticated, valid delivery the bot cannot store must get 503 (Alertmanager
        # retries only 5xx), never 2xx (it would be lost) nor 4xx (dropped for good).
        probe = {
            "version": "4",
            "groupKey": '{}:{alertname="E2EProbe"}',
            "status": "firing",
            "receiver": "firebreak",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "E2EProbe", "severity": "critical"},
                    "startsAt": datetime.now(UTC).isoformat(),
                    "fingerprint": "e2eprobe",
                }
            ],
        }
        async with http.post(
            setup.bot.base_url + "/webhooks/alertmanager",
            json=probe,
            headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        ) as response:
            assert response.status == 503, (response.status, await response.text())

        failed_before = await am_failures(http, setup.alertmanager)
        await post_alerts(http, setup.alertmanager, (a.firing() for a in lnn_alerts()))

        async def refused_deliveries() -> float | None:
            failed = await am_failures(http, setup.alertmanager)
            return failed if failed >= failed_before + len(DEFAULT_GROUPS) else None

        # Alertmanager tried every group and the bot refused each attempt.
        await poll_until(
            refused_deliveries,
            timeout=WAIT_S,
            what="Alertmanager to record a failed notification per group",
            context=processes.logs,
        )
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()

    # Alertmanager keeps retrying (5xx is retryable), so every group arrives after recovery,
    # is stored in the inbox, acknowledged, and processed once.
    incidents = await wait_incidents(setup.api, len(DEFAULT_GROUPS), processes)
    counts = await wait_inbox_processed(
        http, [setup.bot], at_least=len(DEFAULT_GROUPS), context=processes.logs
    )
    named = assert_default_severities(await setup.api.incidents())
    assert {i["id"] for i in named.values()} == {i["id"] for i in incidents}
    for incident in named.values():
        detail = await setup.api.incident(incident["id"])
        assert len(detail["alerts"]) == 1, detail["alerts"]
        assert kinds(detail)["incident.opened"] == 1, detail["timeline"]
    assert counts.processed >= len(DEFAULT_GROUPS), counts
    refused = await scrape_metric(
        http,
        setup.bot.base_url,
        "firebreak_deliveries_total",
        source="alertmanager",
        outcome="unavailable",
    )
    assert refused >= 1, refused  # the probe, at least

    # A 503 stored nothing: the inbox holds exactly what was acknowledged, all of it
    # processed, and the probe, refused while the database was away, is not in it.
    async def inbox_matches_acks() -> list[tuple[str, bytes]] | None:
        rows = await inbox_rows(postgres_url)
        accepted = await scrape_metric(
            http,
            setup.bot.base_url,
            "firebreak_deliveries_total",
            source="alertmanager",
            outcome="accepted",
        )
        settled = all(outcome == "processed" for outcome, _ in rows)
        return rows if settled and len(rows) == accepted else None

    rows = await poll_until(
        inbox_matches_acks,
        timeout=WAIT_S,
        what="one processed inbox row per acknowledged delivery",
        context=processes.logs,
    )
    assert not any(b"E2EProbe" in body for _, body in rows), rows


async def inbox_rows(postgres_url: str) -> list[tuple[str, bytes]]:
    """(outcome, body) of every row in the bot's ``deliveries`` table."""
    conn = await connect(postgres_url)
    try:
        rows = await conn.fetch("SELECT outcome, body FROM deliveries ORDER BY id")
    finally:
        await conn.close()
    return [(row["outcome"], bytes(row["body"])) for row in rows]


async def am_failures(http: aiohttp.ClientSession, alertmanager: Service) -> float:
    """Alertmanager's own count of failed webhook notification attempts."""
    return await scrape_metric(
        http,
        alertmanager.base_url,
        "alertmanager_notifications_failed_total",
        integration="webhook",
    )


async def test_an_ha_pair_sending_the_same_groups_yields_one_incident_per_group(
    processes: Processes, http: aiohttp.ClientSession, sqlite_url: str
) -> None:
    bot = await processes.firebreak("firebreak", env=firebreak_env(sqlite_url))
    api = FirebreakApi(http, bot)
    config = alertmanager_config(
        bot.base_url + "/webhooks/alertmanager", ALERTMANAGER_TOKEN, Timing()
    )
    gossip = (free_port(), free_port())
    # A zero peer timeout makes the second member notify without waiting for the first's
    # notification log to arrive by gossip, as happens when gossip lags: the bot, not the
    # pair, then has to deduplicate.
    pair = [
        await processes.alertmanager(
            f"alertmanager-{n}",
            config_text=config,
            cluster=Cluster(listen_port=gossip[n], peers=(gossip[1 - n],), peer_timeout="0s"),
        )
        for n in (0, 1)
    ]

    async def clustered() -> bool | None:
        sizes = [await cluster_peers(http, am) for am in pair]
        return True if sizes == [2, 2] else None

    await poll_until(clustered, timeout=WAIT_S, what="a two-member cluster", context=processes.logs)

    # Prometheus sends every alert to every Alertmanager of the pair.
    alerts = lnn_alerts()
    await asyncio.gather(*(post_alerts(http, am, [a.firing() for a in alerts]) for am in pair))
    named = assert_default_severities(await wait_incidents(api, len(DEFAULT_GROUPS), processes))

    now = datetime.now(UTC)
    await asyncio.gather(*(post_alerts(http, am, [a.resolved(now) for a in alerts]) for am in pair))
    resolved = await wait_incidents(api, len(DEFAULT_GROUPS), processes, status="resolved")
    assert_default_severities(resolved)
    # With no peer timeout both members usually deliver every group (in trials: 10-12
    # deliveries for 3 groups firing and resolving). However many duplicates reached the bot,
    # each group is one incident with one alert episode, and resolving opened nothing.
    sent = [
        await scrape_metric(
            http, am.base_url, "alertmanager_notifications_total", integration="webhook"
        )
        for am in pair
    ]
    counts = await wait_inbox_processed(
        http, [bot], at_least=2 * len(DEFAULT_GROUPS), context=processes.logs
    )
    assert counts.accepted >= 2 * len(DEFAULT_GROUPS), (sent, counts)
    assert len(await api.incidents()) == len(DEFAULT_GROUPS)
    for name, incident in named.items():
        detail = await api.incident(incident["id"])
        assert [a["labels"]["alertname"] for a in detail["alerts"]] == [name], detail["alerts"]
        assert kinds(detail)["incident.opened"] == 1, detail["timeline"]
        assert kinds(detail)["incident.resolved"] == 1, detail["timeline"]
