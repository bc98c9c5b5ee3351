"""A loaded model version: an onnxruntime session plus its manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from lnn_service.manifest import Manifest

F32 = npt.NDArray[np.float32]


def make_session(onnx_bytes: bytes, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads would steal the event loop's core between batches.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    session: ort.InferenceSession
    sha256: str
    load_seconds: float
    # Several intra-op threads, for large /inference/batch requests run off the loop.
    wide_session: ort.InferenceSession | None = None

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def from_bytes(
        cls,
        manifest: Manifest,
        onnx_bytes: bytes,
        sha256: str,
        threads: int = 1,
        wide_threads: int = 0,
    ) -> LoadedModel:
        started = time.perf_counter()
        session = make_session(onnx_bytes, threads)
        wide = make_session(onnx_bytes, wide_threads) if wide_threads > 1 else None
        return cls(manifest, session, sha256, time.perf_counter() - started, wide)

    def run(self, inputs: F32, states: F32, dt: F32) -> tuple[F32, F32]:
        """Shapes: inputs (N, in), states (N, hidden), dt (N, 1); all float32, C-contiguous."""
        out, state = self.session.run(None, {"input": inputs, "state": states, "dt": dt})
        return out, state

    def run_wide(self, inputs: F32, states: F32, dt: F32) -> tuple[F32, F32]:
        """Like :meth:`run`, on the multi-threaded session when there is one."""
        session = self.wide_session or self.session
        out, state = session.run(None, {"input": inputs, "state": states, "dt": dt})
        return out, state

    def zero_states(self, n: int) -> F32:
        return np.zeros((n, self.manifest.state_dim), dtype=np.float32)

    def golden_ok(self, tolerance: float = 1e-4) -> bool:
        """True when the manifest's golden input still gives its golden output."""
        golden = self.manifest.golden
        out, _ = self.run(
            np.array([golden.input], dtype=np.float32),
            self.zero_states(1),
            np.full((1, 1), golden.dt, dtype=np.float32),
        )
        expected = np.array(golden.output, dtype=np.float32)
        return bool(np.allclose(out[0], expected, rtol=tolerance, atol=tolerance))
