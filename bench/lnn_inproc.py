"""In-process measurements: onnxruntime and the numpy reference, without HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lnn_service import cfc
from lnn_service.cfc import CfcWeights
from lnn_service.runtime import LoadedModel


@dataclass(frozen=True)
class CallStats:
    rows_per_call: int
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float

    @property
    def inferences_per_second(self) -> float:
        return self.rows_per_call * self.calls / self.seconds


def time_calls(fn: Callable[[], object], calls: int, rows: int) -> CallStats:
    fn()  # warm-up: first calls allocate
    samples = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    started = clock()
    for i in range(calls):
        t0 = clock()
        fn()
        samples[i] = clock() - t0
    total = (clock() - started) / 1e9
    p50, p99, p999 = np.percentile(samples, [50, 99, 99.9]) / 1e6
    return CallStats(rows, calls, total, float(p50), float(p99), float(p999))


def onnxruntime_calls(model: LoadedModel, rows: int, calls: int) -> CallStats:
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-0.1, 0.1, (rows, 4)).astype(np.float32)
    states = model.zero_states(rows)
    dt = np.full((rows, 1), model.manifest.default_dt, dtype=np.float32)
    return time_calls(lambda: model.run(inputs, states, dt), calls, rows)


def numpy_calls(weights: CfcWeights, rows: int, calls: int) -> CallStats:
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-0.1, 0.1, (rows, 4))
    states = np.zeros((rows, weights.n_hidden))
    return time_calls(lambda: cfc.step(weights, inputs, states, cfc.DEFAULT_DT), calls, rows)


def stall_probe(seconds: float = 2.0, threshold_s: float = 0.001) -> tuple[int, float]:
    """Gaps above ``threshold_s`` seen by a busy loop: how often this machine takes the CPU away.

    A loop that only reads the clock should see gaps of microseconds; every
    longer gap is time the process was not running (other processes, the
    hypervisor). Such stalls put a floor under any p99 measured here.
    """
    clock = time.perf_counter
    last = clock()
    end = last + seconds
    count, worst = 0, 0.0
    while last < end:
        now = clock()
        gap = now - last
        if gap > threshold_s:
            count += 1
            worst = max(worst, gap)
        last = now
    return count, worst * 1000
