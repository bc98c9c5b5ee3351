"""Scenarios per target: warm-up, (a) open loop and (b) closed loop on the no-op server and on
``firebreak serve`` with each backend, one server process after the other."""

from __future__ import annotations

import contextlib
import math
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest.generators import Load, closed_loop, open_loop
from bench.ingest.options import Options
from bench.ingest.progress import Ledger
from bench.ingest.servers import (
    POSTGRES_ENVS,
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


def firebreak_rows(backend: str, o: Options, run_id: str, workdir: Path) -> list[Row]:
    """Warm-up, (a) and (b) on ``firebreak serve`` with ``backend``."""
    argv = [firebreak_executable(), "serve"]
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / f'{run_id}-sqlite.db'}"
        else:
            server_url = postgres_server_url()
            if server_url is None:
                print(f"skipping postgres: set one of {', '.join(POSTGRES_ENVS)}", flush=True)
                return []
            url = stack.enter_context(postgres_database(server_url))
            migrate(url, workdir)
        server = stack.enter_context(running(backend, argv, firebreak_env(url), workdir))
        target = Target(server, backend, f"{run_id}-{backend}", Ledger())
        target.warm_up(o)
        return [target.open_loop(o), target.closed_loop(o)]


def noop_rows(o: Options, run_id: str, workdir: Path, *, first: bool) -> list[Row]:
    """The ceiling: warm-up, (a) and (b) the first time; warm-up and (b) the second."""
    name = "noop-1" if first else "noop-2"
    with running(name, noop_argv(), noop_env(), workdir, o.noop_cpus) as server:
        target = Target(server, NOOP, f"{run_id}-{name}", None)
        target.warm_up(o)
        if first:
            return [target.open_loop(o), target.closed_loop(o, ", before")]
        return [target.closed_loop(o, ", after")]


def run(o: Options) -> tuple[list[Row], list[str]]:
    """All targets in order; a target that fails is reported and the others still run."""
    rows: list[Row] = []
    failures: list[str] = []
    run_id = secrets.token_hex(3)
    targets = [NOOP, *o.backends, NOOP]
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
                    rows += noop_rows(o, run_id, workdir, first=index == 0)
                else:
                    rows += firebreak_rows(name, o, run_id, workdir)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                failures.append(f"{name}: {exc}")
    return rows, failures
