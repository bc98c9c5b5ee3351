"""Server processes for ``bench.ingest``: start, probe, scrape and stop them, and give
PostgreSQL runs a database of their own.

Everything here talks to loopback only, and every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TOKEN = "bench-token"  # noqa: S105 - a throwaway token for loopback-only servers
SLACK_TOKEN = "xoxb-bench-token"  # noqa: S105 - the bench's fake Slack, on loopback
POSTGRES_ENVS = ("FIREBREAK_BENCH_POSTGRES_URL", "FIREBREAK_TEST_POSTGRES_URL")
# firebreak imports onnxruntime and migrates SQLite before it listens.
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 5.0
OPENED_COUNTER = "firebreak_incidents_opened_total"
PENDING_GAUGE = "firebreak_inbox_pending"
PROCESSED_COUNTER = "firebreak_inbox_processed_total"


def free_port() -> int:
    """A port the kernel considers free right now (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``timeout``; always reaps the child."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def on_cpus(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that confines the child, and every thread it starts, to ``cpus``."""
    if not cpus:
        return None

    def confine() -> None:
        os.sched_setaffinity(0, cpus)

    return confine


@dataclass
class Server:
    """A running target: its process, where it listens and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        """The end of the server's log without INFO lines: firebreak logs several per
        incident, which would bury the warning or traceback that explains a failure."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line for line in lines if " INFO " not in line)[-3000:]

    def get(self, path: str) -> tuple[int, str]:
        """One GET over loopback (http.client: no proxy settings can reroute it)."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def ensure_alive(self) -> None:
        code = self.process.poll()
        if code is None:
            return
        # aiohttp exits 0 on SIGTERM/SIGINT: then something outside this run stopped it.
        why = " (a clean shutdown: SIGTERM or SIGINT from elsewhere?)" if code == 0 else ""
        raise RuntimeError(f"{self.name} exited with {code}{why} mid-run:\n{self.log_tail()}")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.ensure_alive()
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.get("/healthz")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    workdir: Path,
    cpus: frozenset[int] | None = None,
) -> Iterator[Server]:
    """Start ``argv --host 127.0.0.1 --port P`` (on ``cpus`` if given), wait for
    ``/healthz``, and stop it on the way out whatever happened (including Ctrl-C)."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--host", LOOPBACK, "--port", str(port)],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=on_cpus(cpus),
        )
    try:
        server = Server(name, process, port, log_path)
        server.wait_ready()
        yield server
    finally:
        stop(process)


# ---------------------------------------------------------------------------------------------
# What the server reports about itself
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Incidents firebreak has opened for Alertmanager, the Alertmanager deliveries it has
    finished with (any outcome but pending), and its inbox backlog if it has one."""

    opened: int
    pending: int | None
    processed: int = 0


def _sample_value(line: str) -> float:
    return float(line.rsplit(" ", 1)[1])


def parse_metrics(text: str) -> Progress:
    """Sum the opened counter over its severities; the gauge is absent on older servers."""
    opened = processed = 0.0
    pending: float | None = None
    for line in text.splitlines():
        if line.startswith(OPENED_COUNTER + "{") and 'source="alertmanager"' in line:
            opened += _sample_value(line)
        elif line.startswith((PENDING_GAUGE + " ", PENDING_GAUGE + "{")):
            pending = (pending or 0.0) + _sample_value(line)
        elif (
            line.startswith(PROCESSED_COUNTER + "{")
            and 'source="alertmanager"' in line
            and 'outcome="pending"' not in line
        ):
            processed += _sample_value(line)
    return Progress(round(opened), None if pending is None else round(pending), round(processed))


def progress(server: Server) -> Progress:
    status, text = server.get("/metrics")
    if status != 200:
        raise RuntimeError(f"{server.name} /metrics answered {status}: {text[:300]}")
    return parse_metrics(text)


# ---------------------------------------------------------------------------------------------
# Commands and environments
# ---------------------------------------------------------------------------------------------


def noop_argv() -> list[str]:
    return [sys.executable, "-m", "bench.ingest.noop"]


def noop_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def firebreak_executable() -> str:
    local = VENV_BIN / "firebreak"
    return str(local) if local.exists() else "firebreak"


def firebreak_env(database_url: str, slack_api_url: str | None = None) -> dict[str, str]:
    """Only the settings the benchmark means: nothing from the caller's FIREBREAK_/SLACK_/
    PAGERDUTY_ variables, so no real workspace or pager is called; Slack stays unconfigured
    unless ``slack_api_url`` names the bench's fake Slack."""
    prefixes = ("FIREBREAK_", "SLACK_", "PAGERDUTY_", "ALERTMANAGER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        FIREBREAK_DATABASE_URL=database_url,
        FIREBREAK_ALERTMANAGER_TOKEN=TOKEN,
        FIREBREAK_API_TOKEN=TOKEN,
    )
    if slack_api_url is not None:
        env.update(SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_API_URL=slack_api_url)
    return env


def migrate(database_url: str, workdir: Path) -> None:
    done = subprocess.run(
        [firebreak_executable(), "db", "upgrade"],
        env=firebreak_env(database_url),
        cwd=workdir,
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"firebreak db upgrade failed:\n{done.stdout!r}\n{done.stderr!r}")


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a database of its own for the run
# ---------------------------------------------------------------------------------------------


def postgres_server_url() -> str | None:
    for name in POSTGRES_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


async def _admin(server_url: str, sql: str) -> None:
    """Run one statement on the server's maintenance database; errors become RuntimeError,
    so a broken PostgreSQL fails that target and the others still run."""
    try:
        await _execute(server_url, sql)
    except asyncpg.PostgresError as exc:
        raise RuntimeError(f"PostgreSQL refused {sql!r}: {exc}") from exc


async def _execute(server_url: str, sql: str) -> None:
    parsed = make_url(server_url)
    conn = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        timeout=10,
    )
    try:
        await conn.execute(sql, timeout=60)
    finally:
        await conn.close(timeout=10)


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """Create ``fb_bench_<random>`` on the server, yield its URL, drop it afterwards."""
    name = f"fb_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
