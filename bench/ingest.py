"""Alertmanager ingest benchmark: firebreak on SQLite and PostgreSQL against a no-op ceiling.

    .venv/bin/python -m bench.ingest [--deliveries N] [--rate R] [--backends sqlite,postgres]

Every target is a separate server process on loopback: a no-op aiohttp handler that reads
the body and answers ``{}`` (the ceiling: HTTP alone), then ``firebreak serve`` on each
backend. This process drives each with two scenarios of single-alert deliveries, each
delivery a new group (so each opens one incident):

(a) open loop: ``--rate`` deliveries/s for ``--duration`` seconds, sent on a fixed schedule
    whatever the server does; ack latency counts from the scheduled send time, so a server
    that falls behind is charged for the queue it causes (no coordinated omission);
(b) closed loop: ``--deliveries`` deliveries from ``--concurrency`` senders that each wait
    for the previous answer, the maximum sustained throughput.

It prints one table: throughput (alerts/s and incidents/s, from the servers' answers), ack
latency p50/p99, errors, and the server's peak RSS (VmHWM) after each scenario. PostgreSQL
comes from ``FIREBREAK_BENCH_POSTGRES_URL`` or ``FIREBREAK_TEST_POSTGRES_URL``; the run
creates its own database there and drops it at the end. Every loop is bounded in count and in
time, and every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent
TOKEN = "bench-token"  # noqa: S105 - a throwaway token for loopback-only servers
POSTGRES_ENVS = ("FIREBREAK_BENCH_POSTGRES_URL", "FIREBREAK_TEST_POSTGRES_URL")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# A server far behind an open-loop schedule answers late, not never; its true latency is
# the point, so a request is given up only when it is clearly hung.
REQUEST_TIMEOUT_S = 120.0
# Requests before measuring: connection set-up, lazy imports and the first pool connections
# are start-up costs, not ingest costs.
WARMUP_DELIVERIES = 100
# The open loop never has more than this in flight: a server that stops answering makes
# the run report errors instead of growing without bound.
OPEN_LOOP_MAX_IN_FLIGHT = 2_000
TARGET_P99_MS = 50.0
TARGET_CEILING_SHARE = 0.5


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


def delivery(tag: str, index: int) -> bytes:
    """An Alertmanager webhook v4 body: one firing alert in a group of its own."""
    labels = {
        "alertname": "LNNHighLatency",
        "severity": "critical",
        "service": "lnn-service",
        "bench": f"{tag}-{index}",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": "p99 latency above 100 ms"},
        "startsAt": "2026-11-22T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": f"{tag}-{index:08d}",
    }
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{bench="{tag}-{index}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "firebreak",
            "groupLabels": {"bench": labels["bench"]},
            "commonLabels": labels,
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.local",
            "alerts": [alert],
        }
    ).encode()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """What the load generator saw for one scenario."""

    latencies_s: list[float] = field(default_factory=list)
    alerts: int = 0
    incidents: int = 0
    errors: int = 0
    first_error: str = ""
    elapsed_s: float = 0.0

    def rate(self, count: int) -> float:
        return count / self.elapsed_s if self.elapsed_s else float("nan")

    def fail(self, detail: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = detail[:300]


@dataclass
class Row:
    target: str
    scenario: str
    sample: Sample
    peak_rss_mb: float
    counts_incidents: bool

    def percentile_ms(self, q: float) -> float:
        values = sorted(self.sample.latencies_s)
        if not values:
            return float("nan")
        if len(values) == 1:
            return values[0] * 1000
        return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1] * 1000


async def post(http: aiohttp.ClientSession, url: str, body: bytes, sample: Sample) -> bool:
    """Send one delivery; record what it ingested. False if it failed."""
    try:
        async with http.post(url, data=body) as resp:
            text = await resp.text()
            if not 200 <= resp.status < 300:
                sample.fail(f"HTTP {resp.status}: {text}")
                return False
            answer = json.loads(text)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        sample.fail(f"{type(exc).__name__}: {exc}")
        return False
    # The no-op answers {}: it ingests nothing, its alerts/s is deliveries/s.
    sample.alerts += int(answer.get("new_alerts", 1))
    sample.incidents += len(answer.get("opened", ()))
    return True


async def open_loop(
    http: aiohttp.ClientSession, url: str, tag: str, *, rate: float, duration_s: float
) -> Sample:
    """Send ``rate`` deliveries/s for ``duration_s`` seconds on a fixed schedule."""
    sample = Sample()
    count = max(1, round(rate * duration_s))
    bodies = [delivery(tag, i) for i in range(count)]
    in_flight = asyncio.Semaphore(OPEN_LOOP_MAX_IN_FLIGHT)
    start = time.perf_counter() + 0.05

    async def one(index: int) -> None:
        due = start + index / rate
        async with in_flight:
            if await post(http, url, bodies[index], sample):
                sample.latencies_s.append(time.perf_counter() - due)

    async with asyncio.timeout(duration_s + REQUEST_TIMEOUT_S + 5), asyncio.TaskGroup() as tasks:
        for index in range(count):
            # Sleep until the slot, then launch without waiting for earlier answers.
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.create_task(one(index))
    sample.elapsed_s = time.perf_counter() - start
    return sample


async def closed_loop(
    http: aiohttp.ClientSession, url: str, tag: str, *, deliveries: int, concurrency: int
) -> Sample:
    """``deliveries`` deliveries from ``concurrency`` senders, each waiting for its answer."""
    sample = Sample()
    bodies = [delivery(tag, i) for i in range(deliveries)]
    queue = iter(range(deliveries))

    async def sender() -> None:
        for index in queue:
            sent = time.perf_counter()
            if await post(http, url, bodies[index], sample):
                sample.latencies_s.append(time.perf_counter() - sent)

    # Generous, but a hung server still ends the run: deliveries at 5/s at the very least.
    budget_s = 60.0 + deliveries / 5
    start = time.perf_counter()
    async with asyncio.timeout(budget_s), asyncio.TaskGroup() as tasks:
        for _ in range(concurrency):
            tasks.create_task(sender())
    sample.elapsed_s = time.perf_counter() - start
    return sample


# ---------------------------------------------------------------------------------------------
# Server processes
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.asynccontextmanager
async def running(
    name: str, argv: Sequence[str], env: dict[str, str], workdir: Path
) -> AsyncIterator[Server]:
    """Start ``argv`` (which must listen on the port in its arguments), wait for
    ``/healthz``, and stop it afterwards whatever happens."""
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
        )
    server = Server(name, process, f"http://{LOOPBACK}:{port}", log_path)
    try:
        await wait_ready(server)
        yield server
    finally:
        stop(process)


async def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(server.base_url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.log_tail()}")


def firebreak_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "SLACK_"))}
    env.update(
        FIREBREAK_DATABASE_URL=database_url,
        FIREBREAK_ALERTMANAGER_TOKEN=TOKEN,
        FIREBREAK_API_TOKEN=TOKEN,
    )
    return env


def firebreak_argv() -> list[str]:
    local = VENV_BIN / "firebreak"
    return [str(local) if local.exists() else "firebreak", "serve"]


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a database of its own for the run
# ---------------------------------------------------------------------------------------------


def postgres_server_url() -> str | None:
    for name in POSTGRES_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    return None


async def admin(server_url: str, sql: str) -> None:
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
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def postgres_database(server_url: str, *, force_custom_plan: bool) -> AsyncIterator[str]:
    name = f"fb_bench_{secrets.token_hex(4)}"
    await admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        if force_custom_plan:
            # A workaround for a product bug (see docs/ingest-benchmark.md): never let a
            # prepared INSERT ... ON CONFLICT switch to a generic plan.
            await admin(
                server_url, f'ALTER DATABASE "{name}" SET plan_cache_mode = force_custom_plan'
            )
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(database_url: str, workdir: Path) -> None:
    argv = [firebreak_argv()[0], "db", "upgrade"]
    done = subprocess.run(
        argv, env=firebreak_env(database_url), cwd=workdir, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"firebreak db upgrade failed:\n{done.stdout!r}\n{done.stderr!r}")


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    deliveries: int
    rate: float
    duration_s: float
    concurrency: int
    backends: tuple[str, ...]
    force_custom_plan: bool


async def measure(server: Server, options: Options, *, ingests: bool) -> list[Row]:
    url = server.base_url + "/webhooks/alertmanager"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=OPEN_LOOP_MAX_IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    rows = []
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as http:
        await closed_loop(http, url, "warmup", deliveries=WARMUP_DELIVERIES, concurrency=8)
        sample = await open_loop(
            http, url, "open", rate=options.rate, duration_s=options.duration_s
        )
        label = f"(a) open {options.rate:g}/s"
        rows.append(Row(server.name, label, sample, peak_rss_mb(server.process.pid), ingests))
        sample = await closed_loop(
            http, url, "closed", deliveries=options.deliveries, concurrency=options.concurrency
        )
        label = f"(b) closed c={options.concurrency}"
        rows.append(Row(server.name, label, sample, peak_rss_mb(server.process.pid), ingests))
    return rows


async def run(options: Options) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="fb-bench-") as tmp:
        workdir = Path(tmp)
        noop = [sys.executable, "-m", "bench.ingest_noop"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        async with running("no-op", noop, env, workdir) as server:
            rows += await measure(server, options, ingests=False)
        for backend in options.backends:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
                async with running("sqlite", firebreak_argv(), firebreak_env(url), workdir) as s:
                    rows += await measure(s, options, ingests=True)
            elif backend == "postgres":
                server_url = postgres_server_url()
                if server_url is None:
                    print(f"skipping postgres: set one of {', '.join(POSTGRES_ENVS)}")
                    continue
                async with postgres_database(
                    server_url, force_custom_plan=options.force_custom_plan
                ) as url:
                    migrate(url, workdir)
                    async with running(
                        "postgres", firebreak_argv(), firebreak_env(url), workdir
                    ) as s:
                        rows += await measure(s, options, ingests=True)
    return rows


def table(rows: list[Row]) -> Iterator[str]:
    yield (
        "| target | scenario | sent | alerts/s | incidents/s | ack p50 ms | ack p99 ms "
        "| errors | peak RSS MB |"
    )
    yield "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for row in rows:
        s = row.sample
        sent = len(s.latencies_s) + s.errors
        incidents = f"{s.rate(s.incidents):.0f}" if row.counts_incidents else "–"
        yield (
            f"| {row.target} | {row.scenario} | {sent} | {s.rate(s.alerts):.0f} | {incidents} "
            f"| {row.percentile_ms(50):.1f} | {row.percentile_ms(99):.1f} | {s.errors} "
            f"| {row.peak_rss_mb:.0f} |"
        )


def verdicts(rows: list[Row]) -> Iterator[str]:
    ceiling = next((r for r in rows if r.target == "no-op" and r.scenario.startswith("(b)")), None)
    for row in rows:
        if not row.counts_incidents:
            continue
        s = row.sample
        if row.scenario.startswith("(a)"):
            p99 = row.percentile_ms(99)
            ok = p99 < TARGET_P99_MS and s.errors == 0
            yield (
                f"{row.target}: ack p99 {p99:.1f} ms at the open-loop rate "
                f"(target < {TARGET_P99_MS:g} ms, no errors): {'MET' if ok else 'NOT MET'}"
            )
        elif ceiling is not None and ceiling.sample.elapsed_s and s.elapsed_s:
            share = (s.alerts / s.elapsed_s) / (ceiling.sample.alerts / ceiling.sample.elapsed_s)
            ok = share >= TARGET_CEILING_SHARE and s.errors == 0
            yield (
                f"{row.target}: ingest throughput {share:.0%} of the no-op ceiling "
                f"(target >= {TARGET_CEILING_SHARE:.0%}, no errors): {'MET' if ok else 'NOT MET'}"
            )
    for row in rows:
        if row.sample.first_error:
            yield f"{row.target} {row.scenario}: first error: {row.sample.first_error}"


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--deliveries", type=int, default=2000, help="closed-loop deliveries per target"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop deliveries/s")
    parser.add_argument("--duration", type=float, default=10.0, help="open-loop seconds")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop senders")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument(
        "--pg-force-custom-plan",
        action="store_true",
        help="set plan_cache_mode=force_custom_plan on the bench database (bug workaround)",
    )
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.deliveries < 1 or args.rate <= 0 or args.duration <= 0 or args.concurrency < 1:
        parser.error("--deliveries, --rate, --duration and --concurrency must be positive")
    return Options(
        deliveries=args.deliveries,
        rate=args.rate,
        duration_s=args.duration,
        concurrency=args.concurrency,
        backends=backends,
        force_custom_plan=args.pg_force_custom_plan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    rows = asyncio.run(run(options))
    print(f"# ingest benchmark: {os.cpu_count()} CPUs, single-alert deliveries, loopback")
    print("\n".join(table(rows)))
    print()
    print("\n".join(verdicts(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
