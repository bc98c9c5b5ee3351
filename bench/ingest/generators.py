"""Load generators: the open loop (``bench.ingest.load`` on a fixed schedule) and the closed
loop (wrk with ``bench/ingest/wrk.lua``), each run to its end in a process of its own."""

from __future__ import annotations

import json
import math
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ingest.bodies import BODY_TEMPLATE
from bench.ingest.load import RESULT_MARKER
from bench.ingest.options import Options
from bench.ingest.servers import LOOPBACK, REPO_ROOT, TOKEN, Server, on_cpus

WRK = shutil.which("wrk") or "/usr/bin/wrk"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
WRK_MARKER = "INGEST_WRK "


@dataclass(frozen=True)
class Load:
    """What a load generator saw in one scenario."""

    requests: int
    acked: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Sent but never answered (wrk stops mid-request): the server may still store these.
    unanswered: int
    started: float
    # The generator process's CPU and wall time: is the load generator itself a limit?
    generator_cpu_s: float
    generator_wall_s: float
    detail: str

    @property
    def acks_per_s(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else math.nan


def children_cpu_s() -> float:
    """CPU used by finished children; the difference across one run is that run's cost."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def last_line_with(stdout: str, marker: str) -> str:
    for line in reversed(stdout.splitlines()):
        if line.startswith(marker):
            return line[len(marker) :]
    raise RuntimeError(f"no {marker.strip() or 'result'} line in the load generator's output")


@dataclass(frozen=True)
class GeneratorRun:
    """A load generator's summary line (parsed), and what the run cost."""

    result: dict[str, Any]
    started: float  # time.monotonic() at launch
    wall_s: float
    cpu_s: float


def run_generator(
    name: str, argv: list[str], marker: str, *, timeout: float, o: Options
) -> GeneratorRun:
    """Run a load generator on its CPUs to the end; its summary is the last ``marker`` line."""
    cpu_before, started = children_cpu_s(), time.monotonic()
    done = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=on_cpus(o.generator_cpus),
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return GeneratorRun(
        result=json.loads(last_line_with(done.stdout, marker)),
        started=started,
        wall_s=time.monotonic() - started,
        cpu_s=children_cpu_s() - cpu_before,
    )


def open_loop(
    server: Server,
    prefix: str,
    rate: float,
    duration_s: float,
    o: Options,
    shape: Sequence[str] = (),
    connections: int | None = None,
) -> Load:
    """Run ``bench.ingest.load`` against ``server`` and read its JSON summary; ``shape`` is
    more of its options (``--count``, ``--service``, ``--groups``, ``--alerts``)."""
    argv = [
        *(sys.executable, "-m", "bench.ingest.load", "--host", LOOPBACK),
        *("--port", str(server.port), "--token", TOKEN, "--prefix", prefix),
        *("--rate", f"{rate:g}", "--duration", f"{duration_s:g}"),
        *("--connections", str(connections or o.connections)),
        *("--timeout", f"{o.request_timeout_s:g}", *shape),
    ]
    run = run_generator(
        "bench.ingest.load", argv, RESULT_MARKER, timeout=duration_s + o.request_timeout_s + 60, o=o
    )
    raw = run.result
    failed = sum(raw["failures"].values())
    return Load(
        requests=raw["scheduled"],
        acked=raw["acked"],
        errors=raw["errors"],
        elapsed_s=raw["elapsed_s"],
        p50_ms=raw["p50_ms"],
        p99_ms=raw["p99_ms"],
        max_ms=raw["max_ms"],
        unanswered=failed,
        started=raw["start_monotonic"],
        generator_cpu_s=run.cpu_s,
        generator_wall_s=run.wall_s,
        detail=_detail(
            raw["statuses"] | raw["failures"],
            raw["first_error"],
            f"launch lag max {raw['max_lag_ms']:.1f} ms",
        ),
    )


def _detail(statuses: dict[str, int], first_error: str, *extra: str) -> str:
    parts = [" ".join(f"{k}×{v}" for k, v in sorted(statuses.items())), *extra]
    if first_error:
        parts.append(f"first error: {first_error[:200]}")
    return "; ".join(p for p in parts if p).replace("|", "/").replace("\n", " ")


def closed_loop(server: Server, prefix: str, o: Options) -> Load:
    """Run wrk against ``server`` and read the line ``bench/ingest/wrk.lua`` prints."""
    seconds = max(1, round(o.closed_duration_s))
    argv = [
        *(WRK, "-t1", f"-c{o.concurrency}", f"-d{seconds}s", "--latency"),
        *("--timeout", f"{seconds + 30}s", "-s", str(WRK_SCRIPT)),
        *(f"http://{LOOPBACK}:{server.port}/webhooks/alertmanager", "--"),
        *(prefix, TOKEN, BODY_TEMPLATE),
    ]
    run = run_generator("wrk", argv, WRK_MARKER, timeout=seconds + 60, o=o)
    raw = run.result
    socket_errors: dict[str, int] = raw["socket_errors"]
    requests: int = raw["requests"]
    failed = {f"socket {k}": v for k, v in socket_errors.items() if v}
    return Load(
        requests=requests,
        acked=raw["acked"],
        errors=requests - raw["acked"] + sum(socket_errors.values()),
        elapsed_s=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        unanswered=max(0, raw["sent"] - requests),
        started=run.started,
        generator_cpu_s=run.cpu_s,
        generator_wall_s=run.wall_s,
        detail=_detail(raw["statuses"] | failed, ""),
    )
