"""Scenarios per target: warm-up, (a) open loop and (b) closed loop on the no-op server and on
``firebreak serve`` with each backend, then the large, storm and latency scenarios
(``scenarios.py``) on servers of their own, one server process after the other."""

from __future__ import annotations

import contextlib
import math
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest.generators import Load, closed_loop, open_loop
from bench.ingest.options import Options
from bench.ingest.progress import Ledger
from bench.ingest.scenarios import LargeRow, LatencyRow, StormRow, large, latency, storm
from bench.ingest.servers import (
    LOOPBACK,
    POSTGRES_ENVS,
    SLACK_TOKEN,
    Server,
    firebreak_env,
    firebreak_executable,
    migrate,
    noop_argv,
    noop_env,
    postgres_database,
    postgres_server_url,
    running,
)
from bench.procfs import cpu_seconds, peak_rss_mb

# Warm-up: connection set-up, lazy imports, the first pool connections and prepared
# statements are start-up costs, not ingest costs.
WARMUP_RATE = 200.0
WARMUP_SECONDS = 1.0
NOOP = "no-op"


@dataclass(frozen=True)
class Row:
    target: str
    scenario: str
    load: Load
    processed_per_s: float | None
    peak_rss_mb: float
    server_cpu_share: float
    notes: tuple[str, ...]


@dataclass
class Target:
    """One server under test and what is known about it while its scenarios run."""

    server: Server
    label: str
    tag: str
    # None for the no-op: it processes nothing, so there is nothing to wait for.
    ledger: Ledger | None
    notes: list[str] = field(default_factory=list)

    def account(self, scenario: str, load: Load, cpu_before: float, o: Options) -> Row:
        """Wait for processing to catch up with ``load``, then read the server's stats."""
        processed = None
        if self.ledger is not None:
            processed = self.ledger.processed_per_s(
                self.server, load, o.catch_up_timeout_s, self.notes, scenario
            )
        notes, self.notes = tuple(self.notes), []
        wall = time.monotonic() - load.started
        cpu = cpu_seconds(self.server.pid) - cpu_before
        return Row(
            target=self.label,
            scenario=scenario,
            load=load,
            processed_per_s=processed,
            peak_rss_mb=peak_rss_mb(self.server.pid),
            server_cpu_share=cpu / wall if wall > 0 else math.nan,
            notes=notes,
        )

    def warm_up(self, o: Options) -> None:
        load = open_loop(self.server, f"{self.tag}-w", WARMUP_RATE, WARMUP_SECONDS, o)
        if self.ledger is not None:
            timeout_s = o.catch_up_timeout_s
            self.ledger.processed_per_s(self.server, load, timeout_s, self.notes, "warm-up")
        if load.errors:
            self.notes.append(f"warm-up: {load.errors} errors ({load.detail})")

    def open_loop(self, o: Options) -> Row:
        cpu = cpu_seconds(self.server.pid)
        load = open_loop(self.server, f"{self.tag}-a", o.rate, o.duration_s, o)
        return self.account(f"(a) open {o.rate:g}/s", load, cpu, o)

    def closed_loop(self, o: Options, suffix: str = "") -> Row:
        cpu = cpu_seconds(self.server.pid)
        load = closed_loop(self.server, f"{self.tag}-b", o)
        return self.account(f"(b) closed c={o.concurrency}{suffix}", load, cpu, o)


@contextlib.contextmanager
def firebreak(
    backend: str, name: str, workdir: Path, slack_api_url: str | None = None
) -> Iterator[tuple[Server, str] | None]:
    """``firebreak serve`` on a database of its own (a new SQLite file, or a new PostgreSQL
    database, migrated); ``None`` when PostgreSQL is not configured."""
    argv = [firebreak_executable(), "serve"]
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"
        else:
            server_url = postgres_server_url()
            if server_url is None:
                yield None
                return
            url = stack.enter_context(postgres_database(server_url))
            migrate(url, workdir)
        env = firebreak_env(url, slack_api_url)
        yield stack.enter_context(running(name, argv, env, workdir)), url


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    large: list[LargeRow] = field(default_factory=list)
    storms: list[StormRow] = field(default_factory=list)
    latency: list[LatencyRow] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def firebreak_rows(backend: str, o: Options, run_id: str, workdir: Path, out: Results) -> None:
    """Each group of scenarios on a server and database of its own, so that one's backlog
    (the closed loop's may take minutes) or outbox (Slack pacing) is not the next one's."""
    tag = f"{run_id}-{backend}"
    if o.wants("open", "closed"):
        with firebreak(backend, f"{tag}-ab", workdir) as started:
            if started is None:
                print(f"skipping postgres: set one of {', '.join(POSTGRES_ENVS)}", flush=True)
                return
            target = Target(started[0], backend, tag, Ledger())
            target.warm_up(o)
            if o.wants("open"):
                out.rows.append(target.open_loop(o))
            if o.wants("closed"):
                out.rows.append(target.closed_loop(o))
    if o.wants("large", "storm"):
        with firebreak(backend, f"{tag}-ls", workdir) as started:
            if started is None:
                return
            server, url = started
            if o.wants("large"):
                out.large += large(server, backend, f"{tag}-l", o)
            if o.wants("storm"):
                out.storms.append(storm(server, backend, url, f"{tag}-s", o))
    if o.wants("latency"):
        slack_argv = [sys.executable, "-m", "bench.ingest.fake_slack", "--token", SLACK_TOKEN]
        with running(f"{tag}-slack", slack_argv, noop_env(), workdir) as slack:
            api = f"http://{LOOPBACK}:{slack.port}/api/"
            with firebreak(backend, f"{tag}-lat", workdir, api) as started:
                if started is None:
                    return
                server, url = started
                out.latency.append(latency(server, slack, backend, url, f"{tag}-t", o))


def noop_rows(o: Options, run_id: str, workdir: Path, *, first: bool) -> list[Row]:
    """The ceiling: warm-up, (a) and (b) the first time; warm-up and (b) the second."""
    name = "noop-1" if first else "noop-2"
    with running(name, noop_argv(), noop_env(), workdir, o.noop_cpus) as server:
        target = Target(server, NOOP, f"{run_id}-{name}", None)
        target.warm_up(o)
        if not first:
            return [target.closed_loop(o, ", after")]
        rows = [target.open_loop(o)] if o.wants("open") else []
        return [*rows, target.closed_loop(o, ", before")]


def run(o: Options) -> Results:
    """All targets in order; a target that fails is reported and the others still run. The
    no-op runs only with (a) or (b), whose processed share it is the ceiling of."""
    out = Results()
    run_id = secrets.token_hex(3)
    noop = [NOOP] if o.wants("open", "closed") else []
    targets = [*noop, *o.backends, *noop]
    with contextlib.ExitStack() as stack:
        if o.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fb-bench-")))
        else:
            workdir = o.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(targets):
            print(f"running {name} ...", file=sys.stderr, flush=True)
            try:
                if name == NOOP:
                    out.rows += noop_rows(o, run_id, workdir, first=index == 0)
                else:
                    firebreak_rows(name, o, run_id, workdir, out)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                out.failures.append(f"{name}: {exc}")
    return out
