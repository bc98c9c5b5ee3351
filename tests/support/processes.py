"""Real processes for end-to-end tests: ``firebreak serve`` and Prometheus Alertmanager.

Everything here listens on loopback only, logs to a file under the test's ``tmp_path`` (its
tail goes into failure messages), waits with a deadline rather than a fixed sleep, and stops
with SIGTERM, then SIGKILL if the process does not exit in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.ingest.servers import STOP_TIMEOUT_S, stop
from tests.support.policy_files import default_policy_file

# SIGTERM, then SIGKILL: the benchmark stops its servers the same way, so one function serves both.
stop_process = stop

LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 30.0
LOG_TAIL_CHARS = 6000

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Generic process plumbing
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """A port the kernel just handed out on loopback; closed again so a child can bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def require_binary(name: str) -> str:
    """The path of ``name``. Missing: fail under ``CI=true`` (CI must run these), else skip."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian: apt-get install prometheus-alertmanager)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"end-to-end tests must run in CI: {message}")
    pytest.skip(message)


def firebreak_executable() -> str:
    """The console script of the virtualenv running the tests, else the one on PATH."""
    local = VENV_BIN / "firebreak"
    if local.exists():
        return str(local)
    found = shutil.which("firebreak")
    if found is None:
        pytest.fail("the firebreak console script is not installed (pip install -e .)")
    return found


def tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return text[-chars:]


@dataclass
class Service:
    """One child process listening on ``base_url``, logging to ``log_path``."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def describe(self) -> str:
        """The last part of the log, for assertion messages."""
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"--- {self.name} ({state}) log {self.log_path} ---\n{tail(self.log_path)}"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; always reaps the child."""
        stop_process(self.process, timeout)


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr going to ``log_path``."""
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def poll_until(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    context: Callable[[], str] = lambda: "",
) -> T:
    """Call ``check`` until it returns something other than ``None``; fail after ``timeout``.

    The sleep between attempts is only a polling interval: no assertion depends on it."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = await check()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            result, last_error = None, exc
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{detail}\n{context()}")
        await asyncio.sleep(interval)


async def wait_http_ok(service: Service, path: str, *, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll ``GET path`` until 200; fail early (with the log) if the process exits."""

    async def ready() -> bool | None:
        if service.process.poll() is not None:
            pytest.fail(f"{service.name} exited before becoming ready\n{service.describe()}")
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(service.base_url + path) as response,
        ):
            return True if response.status == 200 else None

    await poll_until(
        ready, timeout=timeout, what=f"{service.name} {path}", context=service.describe
    )


# ---------------------------------------------------------------------------------------------
# firebreak
# ---------------------------------------------------------------------------------------------

ALERTMANAGER_TOKEN = "e2e-alertmanager-token"
API_TOKEN = "e2e-api-token"


def firebreak_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment for a firebreak process: the test's own plus the bot's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    env.update(
        FIREBREAK_DATABASE_URL=database_url,
        # The shipped policy without its Sunday-night maintenance window: these bots run on
        # the real clock (tests/support/policy_files.py).
        FIREBREAK_POLICY=str(default_policy_file()),
        FIREBREAK_ALERTMANAGER_TOKEN=ALERTMANAGER_TOKEN,
        FIREBREAK_API_TOKEN=API_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def firebreak_db_upgrade(env: Mapping[str, str], *, log_path: Path, cwd: Path) -> None:
    """``firebreak db upgrade`` (needed once on PostgreSQL); fail with its output."""
    result = subprocess.run(
        [firebreak_executable(), "db", "upgrade"],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )
    log_path.write_bytes(result.stdout + result.stderr)
    if result.returncode != 0:
        pytest.fail(f"firebreak db upgrade failed ({result.returncode})\n{tail(log_path)}")


def start_firebreak(
    name: str, *, env: Mapping[str, str], workdir: Path, public_url: bool = False
) -> Service:
    """Spawn ``firebreak serve`` on a free loopback port (not yet ready: see ``wait_http_ok``);
    with ``public_url``, its ``FIREBREAK_PUBLIC_URL`` is its own address, so the links it
    writes (the card's, say) lead back to it."""
    port = free_port()
    if public_url:
        env = {**env, "FIREBREAK_PUBLIC_URL": f"http://{LOOPBACK}:{port}"}
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    argv = [firebreak_executable(), "serve", "--host", LOOPBACK, "--port", str(port)]
    process = spawn(argv, env=env, log_path=log_path, cwd=workdir)
    return Service(name, f"http://{LOOPBACK}:{port}", process, log_path)


class FirebreakApi:
    """The bot's read API and metrics, as a test sees them."""

    def __init__(self, session: aiohttp.ClientSession, service: Service) -> None:
        self.session = session
        self.service = service
        self.headers = {"Authorization": f"Bearer {API_TOKEN}"}

    async def incidents(self, **query: str) -> list[dict[str, Any]]:
        params = {"limit": "1000", **query}
        async with self.session.get(
            self.service.base_url + "/api/incidents", params=params, headers=self.headers
        ) as response:
            body = await response.text()
            assert response.status == 200, f"GET /api/incidents: {response.status} {body}"
            incidents: list[dict[str, Any]] = json.loads(body)["incidents"]
            return incidents

    async def incident(self, incident_id: int) -> dict[str, Any]:
        async with self.session.get(
            f"{self.service.base_url}/api/incidents/{incident_id}", headers=self.headers
        ) as response:
            body = await response.text()
            assert response.status == 200, f"GET /api/incidents/{incident_id}: {body}"
            detail: dict[str, Any] = json.loads(body)
            return detail

    async def metric(self, name: str, **labels: str) -> float:
        return await scrape_metric(self.session, self.service.base_url, name, **labels)


async def scrape_metric(
    session: aiohttp.ClientSession, base_url: str, name: str, **labels: str
) -> float:
    """The sum of every sample called ``name`` whose labels include ``labels`` (0 if none)."""
    async with session.get(base_url + "/metrics") as response:
        assert response.status == 200, f"GET {base_url}/metrics: {response.status}"
        text = await response.text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@dataclass(frozen=True)
class InboxCounts:
    """What firebreak processes did with the Alertmanager deliveries they acknowledged."""

    accepted: float
    processed: float
    ignored: float
    failed: float
    deferred: float  # failed attempts that will be retried

    @property
    def settled(self) -> float:
        return self.processed + self.ignored + self.failed


async def inbox_counts(session: aiohttp.ClientSession, services: Sequence[Service]) -> InboxCounts:
    """Summed over ``services``: on PostgreSQL any replica may process what another accepted."""

    async def total(name: str, outcome: str) -> float:
        values = [
            await scrape_metric(session, s.base_url, name, source="alertmanager", outcome=outcome)
            for s in services
        ]
        return sum(values)

    processed = "firebreak_inbox_processed_total"
    return InboxCounts(
        accepted=await total("firebreak_deliveries_total", "accepted"),
        processed=await total(processed, "processed"),
        ignored=await total(processed, "ignored"),
        failed=await total(processed, "failed"),
        deferred=await total(processed, "pending"),
    )


async def wait_inbox_processed(
    session: aiohttp.ClientSession,
    services: Sequence[Service],
    *,
    at_least: int = 0,
    timeout: float = 120.0,
    context: Callable[[], str] = lambda: "",
) -> InboxCounts:
    """Poll until every delivery the services acknowledged (at least ``at_least`` of them)
    has been settled by an inbox processor, then check that none failed.

    Delivery is acknowledged before it is processed, so a test that asserts on incidents
    after sending must wait for this, not just for the first incidents to show up."""

    seen: list[InboxCounts] = []

    async def settled() -> InboxCounts | None:
        counts = await inbox_counts(session, services)
        seen.append(counts)
        if counts.accepted >= at_least and counts.settled == counts.accepted:
            return counts
        return None

    counts = await poll_until(
        settled,
        timeout=timeout,
        what=f"every acknowledged delivery (at least {at_least}) processed",
        context=lambda: f"last counts: {seen[-1:]}\n{context()}",
    )
    assert counts.failed == 0, (counts, context())
    return counts


# ---------------------------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Alertmanager's route timers. Short, so a test sees several notification cycles."""

    group_wait: str = "1s"
    group_interval: str = "2s"
    repeat_interval: str = "1h"


def alertmanager_config(webhook_url: str, token: str, timing: Timing) -> str:
    """A config that sends every group (one per alertname) to firebreak with a bearer token,
    including resolutions. JSON is valid YAML, so no YAML writer is needed."""
    config = {
        "route": {
            "receiver": "firebreak",
            "group_by": ["alertname"],
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
        },
        "receivers": [
            {
                "name": "firebreak",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": token},
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(config, indent=2)


@dataclass(frozen=True)
class Cluster:
    """Gossip settings for one member of an HA pair on loopback."""

    listen_port: int
    peers: tuple[int, ...]
    # How long a member waits per position before it notifies (the HA dedup window).
    peer_timeout: str = "1s"


def start_alertmanager(
    name: str,
    *,
    config_text: str,
    workdir: Path,
    cluster: Cluster | None = None,
    web_port: int | None = None,
) -> Service:
    """Spawn Alertmanager on loopback with its own storage; clustering off unless ``cluster``."""
    binary = require_binary("prometheus-alertmanager")
    home = workdir / name
    (home / "data").mkdir(parents=True, exist_ok=True)
    config_path = home / "alertmanager.yml"
    config_path.write_text(config_text)
    amtool = shutil.which("amtool") or "/usr/bin/amtool"
    if Path(amtool).exists():
        # A config error is clearer from amtool than from a process that never gets ready.
        check = subprocess.run(
            [amtool, "check-config", str(config_path)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, f"amtool check-config: {check.stdout!r} {check.stderr!r}"
    port = web_port or free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url=http://{LOOPBACK}:{port}",
        "--log.level=debug",
    ]
    if cluster is None:
        argv.append("--cluster.listen-address=")
    else:
        argv += [
            f"--cluster.listen-address={LOOPBACK}:{cluster.listen_port}",
            f"--cluster.advertise-address={LOOPBACK}:{cluster.listen_port}",
            *(f"--cluster.peer={LOOPBACK}:{p}" for p in cluster.peers),
            "--cluster.gossip-interval=50ms",
            "--cluster.pushpull-interval=1s",
            "--cluster.probe-interval=200ms",
            "--cluster.settle-timeout=2s",
            "--cluster.reconnect-interval=1s",
            f"--cluster.peer-timeout={cluster.peer_timeout}",
        ]
    log_path = home / "alertmanager.log"
    process = spawn(argv, env=dict(os.environ), log_path=log_path, cwd=home)
    return Service(name, f"http://{LOOPBACK}:{port}", process, log_path)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertSpec:
    """One alert as a Prometheus would post it to Alertmanager's API."""

    labels: Mapping[str, str]
    starts_at: datetime
    summary: str = ""

    def firing(self) -> dict[str, Any]:
        # No endsAt: Alertmanager keeps it firing for its resolve_timeout (5m by default).
        return {
            "labels": dict(self.labels),
            "annotations": {"summary": self.summary} if self.summary else {},
            "startsAt": _rfc3339(self.starts_at),
            "generatorURL": f"http://{LOOPBACK}/e2e",
        }

    def resolved(self, at: datetime) -> dict[str, Any]:
        # Same labels (so the same fingerprint) with endsAt now: Alertmanager resolves it.
        return {**self.firing(), "endsAt": _rfc3339(at)}


async def post_alerts(
    session: aiohttp.ClientSession, alertmanager: Service, alerts: Iterable[dict[str, Any]]
) -> None:
    """``POST /api/v2/alerts`` as Prometheus does; Alertmanager answers 200 when accepted."""
    async with session.post(
        alertmanager.base_url + "/api/v2/alerts", json=list(alerts)
    ) as response:
        body = await response.text()
        assert response.status == 200, (
            f"{alertmanager.name} refused alerts: {response.status} {body}"
        )


async def cluster_peers(session: aiohttp.ClientSession, alertmanager: Service) -> int | None:
    """How many members this Alertmanager sees in its cluster once it reports ``ready``."""
    async with session.get(alertmanager.base_url + "/api/v2/status") as response:
        if response.status != 200:
            return None
        status = await response.json()
    cluster = status.get("cluster") or {}
    if cluster.get("status") != "ready":
        return None
    return len(cluster.get("peers") or [])
