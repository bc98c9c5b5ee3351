"""The ONNX graph computes the same CfC as the numpy reference."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from lnn_service import cfc
from lnn_service.cfc import CfcWeights, FloatArray
from lnn_service.onnx_graph import build_model
from lnn_service.settings import DEFAULT_MODEL_DIR

TOLERANCE = 1e-5


def rel_err(actual: FloatArray, expected: FloatArray) -> float:
    return float(np.linalg.norm(actual - expected)) / max(float(np.linalg.norm(expected)), 1e-12)


def session_for(weights: CfcWeights) -> ort.InferenceSession:
    return ort.InferenceSession(
        build_model(weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )


def run_onnx(
    sess: ort.InferenceSession,
    u: FloatArray,
    x: FloatArray,
    dt: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    out, state = sess.run(
        None,
        {"input": u.astype(np.float32), "state": x.astype(np.float32), "dt": dt.astype(np.float32)},
    )
    return out, state


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_step_agrees_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = CfcWeights.random(rng)
    sess = session_for(weights)
    u = rng.normal(0, 1, (64, 4))
    x = rng.uniform(-1, 1, (64, 32))
    dt = rng.uniform(0.001, 1.0, (64, 1))
    # Round the inputs to float32 first so both sides see the same numbers.
    u, x, dt = (a.astype(np.float32).astype(np.float64) for a in (u, x, dt))
    ref_out, ref_state = cfc.step(weights, u, x, dt)
    out, state = run_onnx(sess, u, x, dt)
    assert rel_err(state, ref_state) < TOLERANCE
    assert rel_err(out, ref_out) < TOLERANCE


def test_hundred_step_rollout_agrees() -> None:
    rng = np.random.default_rng(7)
    weights = CfcWeights.random(rng)
    sess = session_for(weights)
    inputs = rng.normal(0, 1, (100, 16, 4)).astype(np.float32).astype(np.float64)
    x_ref: FloatArray = np.zeros((16, 32))
    x_onnx = np.zeros((16, 32), dtype=np.float32)
    dt = np.full((16, 1), cfc.DEFAULT_DT)
    for t, u in enumerate(inputs):
        ref_out, x_ref = cfc.step(weights, u, x_ref, dt)
        out, x_onnx = run_onnx(sess, u, x_onnx, dt)
        assert rel_err(out, ref_out) < TOLERANCE, f"output diverged at step {t}"
    assert rel_err(x_onnx, x_ref) < TOLERANCE


def test_committed_model_matches_its_weights() -> None:
    directory = DEFAULT_MODEL_DIR / "cartpole-v1"
    weights = CfcWeights.load(directory / "weights.npz")
    sess = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    u = rng.uniform(-0.2, 0.2, (32, 4)).astype(np.float32).astype(np.float64)
    x = np.zeros((32, weights.n_hidden))
    dt = np.full((32, 1), cfc.DEFAULT_DT)
    ref_out, ref_state = cfc.step(weights, u, x, dt)
    out, state = run_onnx(sess, u, x, dt)
    assert rel_err(state, ref_state) < TOLERANCE
    assert rel_err(out, ref_out) < TOLERANCE


def test_output_is_clipped_to_the_force_limit() -> None:
    weights = CfcWeights.random(np.random.default_rng(0), out_limit=10.0)
    big = CfcWeights(
        weights.w_bb, weights.b_bb, weights.w_heads, weights.b_heads,
        weights.w_out * 1e4, weights.b_out, weights.out_limit,
    )  # fmt: skip
    u = np.ones((8, 4))
    out, _ = run_onnx(session_for(big), u, np.zeros((8, 32)), np.full((8, 1), 0.02))
    assert np.all(np.abs(out) <= 10.0)
    assert np.any(np.abs(out) == 10.0)


def test_flop_count_of_the_served_shape() -> None:
    weights = CfcWeights.random(np.random.default_rng(0))
    # 2*(36*64 + 64*96 + 32*1) multiply-adds, biases 64+96+1, tanh 64+64, gate 3*32,
    # blend 3*32, clip 2.
    assert weights.flops_per_inference() == 2 * (36 * 64 + 64 * 96 + 32) + 161 + 128 + 96 + 96 + 2
    assert weights.flops_per_inference() == 17443
