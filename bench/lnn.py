"""Benchmark of the LNN service: ``.venv/bin/python -m bench.lnn [--seconds 5]``.

Starts the service (``python -m lnn_service serve``) and a naive baseline server
(``bench.lnn_naive``: aiohttp, one ``session.run`` per request) on loopback
ports, drives each with wrk (a separate, bounded load generator: fixed
connections for a fixed time), measures onnxruntime and the numpy reference
in-process, and prints one Markdown table. Everything shares this machine's
cores, load generator included. Not part of the test suite.
"""

from __future__ import annotations

import os

# Measure numpy single-threaded, like onnxruntime with one intra-op thread; must be
# set before numpy loads its BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import orjson

from bench.lnn_inproc import numpy_calls, onnxruntime_calls, stall_probe
from bench.lnn_load import run_wrk
from bench.procfs import peak_rss_mb
from bot.progress import Progress
from lnn_service.cfc import CfcWeights
from lnn_service.registry import Registry
from lnn_service.settings import DEFAULT_MODEL_DIR

SINGLE = orjson.dumps({"input": [0.1, -0.2, 0.8, 0.5]})
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Row:
    name: str
    inferences_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    peak_mb: float
    note: str = ""

    def markdown(self) -> str:
        return (
            f"| {self.name} | {self.inferences_per_s:,.0f} | {self.p50_ms:.3f} | "
            f"{self.p99_ms:.3f} | {self.p999_ms:.3f} | {self.peak_mb:.0f} | {self.note} |"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **env}, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"server {args} did not start") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def http_rows(
    name: str,
    url: str,
    body: bytes,
    ctype: str,
    conns: int,
    seconds: float,
    rows: int,
    pid: int,
    headers: dict[str, str] | None = None,
) -> Row:
    result = run_wrk(url, body, ctype, conns, seconds, headers=headers)
    note = f"{result.rps:,.0f} req/s" + (f", {result.errors} errors" if result.errors else "")
    return Row(
        name,
        result.rps * rows,
        result.p50_ms,
        result.p99_ms,
        result.p999_ms,
        peak_rss_mb(pid),
        note,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    parser.add_argument("--concurrency", default="1,16,64,256", help="connections for singles")
    parser.add_argument("--batch-rows", type=int, default=4096, help="rows per binary batch")
    parser.add_argument("--json-rows", type=int, default=1024, help="rows per JSON batch")
    parser.add_argument("--calls", type=int, default=20000, help="in-process single calls")
    parser.add_argument("--workers", type=int, default=2, help="also run the service this wide")
    parser.add_argument("--version", default=None, help="model version (default: newest)")
    args = parser.parse_args(argv)
    conns = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    stalls, worst_ms = stall_probe()
    registry = Registry(DEFAULT_MODEL_DIR)
    version = args.version or registry.latest()
    model = registry.load(version)
    weights = CfcWeights.load(DEFAULT_MODEL_DIR / version / model.manifest.weights_file)
    rng = np.random.default_rng(0)
    batch = rng.uniform(-0.1, 0.1, (args.batch_rows, 4)).astype("<f4")
    json_batch = orjson.dumps({"inputs": batch[: args.json_rows].tolist()})
    rows: list[Row] = []
    runs = len(conns) + 3 + (1 if args.workers > 1 else 0) + len(conns)
    shown = Progress("bench.lnn: wrk runs", runs)

    def record(row: Row) -> None:
        rows.append(row)
        shown.advance()

    def service_rows(workers: int, conn_list: list[int]) -> None:
        port = free_port()
        env = {
            "LNN_PORT": str(port),
            "LNN_MODEL_VERSION": version,
            "LNN_WORKERS": str(workers),
            "LNN_MAX_BATCH": str(max(args.batch_rows, args.json_rows)),
        }
        label = "service" if workers == 1 else f"service, {workers} workers"
        with server(["-m", "lnn_service", "serve"], port, env) as proc:
            url = f"http://127.0.0.1:{port}"
            for c in conn_list:
                record(
                    http_rows(
                        f"{label}: single, {c} conns",
                        f"{url}/inference",
                        SINGLE,
                        JSON_TYPE,
                        c,
                        args.seconds,
                        1,
                        proc.pid,
                    )
                )
            if workers == 1:
                # (what, body, content type, rows per request, extra headers)
                batches: list[tuple[str, bytes, str, int, dict[str, str] | None]] = [
                    (f"batch JSON x{args.json_rows}", json_batch, JSON_TYPE, args.json_rows, None),
                    (
                        f"batch binary x{args.batch_rows}",
                        batch.tobytes(),
                        BINARY_TYPE,
                        args.batch_rows,
                        None,
                    ),
                    (
                        f"batch binary x{args.batch_rows}, outputs only",
                        batch.tobytes(),
                        BINARY_TYPE,
                        args.batch_rows,
                        {"X-LNN-Return-State": "0"},
                    ),
                ]
                for what, body, content_type, per_request, headers in batches:
                    record(
                        http_rows(
                            f"{label}: {what}, 4 conns",
                            f"{url}/inference/batch",
                            body,
                            content_type,
                            4,
                            args.seconds,
                            per_request,
                            proc.pid,
                            headers=headers,
                        )
                    )

    def naive_rows(conn_list: list[int]) -> None:
        port = free_port()
        onnx_path = DEFAULT_MODEL_DIR / version / model.manifest.onnx_file
        with server(["-m", "bench.lnn_naive", str(port), str(onnx_path)], port, {}) as proc:
            for c in conn_list:
                record(
                    http_rows(
                        f"naive baseline: single, {c} conns",
                        f"http://127.0.0.1:{port}/inference",
                        SINGLE,
                        JSON_TYPE,
                        c,
                        args.seconds,
                        1,
                        proc.pid,
                    )
                )

    with shown:
        service_rows(1, conns)
        if args.workers > 1:
            service_rows(args.workers, [max(conns)])
        naive_rows(conns)

    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for label, stats in (
        ("onnxruntime in-process, 1 row/call", onnxruntime_calls(model, 1, args.calls)),
        (
            "onnxruntime in-process, 1024 rows/call",
            onnxruntime_calls(model, 1024, args.calls // 20),
        ),
        ("numpy reference, 1 row/call", numpy_calls(weights, 1, args.calls // 2)),
        ("numpy reference, 1024 rows/call", numpy_calls(weights, 1024, args.calls // 50)),
    ):
        own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(
            Row(
                label,
                stats.inferences_per_second,
                stats.p50_ms,
                stats.p99_ms,
                stats.p999_ms,
                own_mb,
                f"{stats.calls} calls, latency per call",
            )
        )

    print(f"model {version}, {weights.flops_per_inference():,} FLOPs per inference, "
          f"{os.cpu_count()} CPUs, wrk runs of {args.seconds:g} s, "
          f"1-min load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print(
        f"stall probe: a busy loop lost the CPU for more than 1 ms {stalls} times in 2 s "
        f"(longest {worst_ms:.1f} ms)"
    )
    print()
    print("| run | inferences/s | p50 ms | p99 ms | p99.9 ms | peak RSS MB | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(row.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
