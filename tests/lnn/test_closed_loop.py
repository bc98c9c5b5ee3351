"""The committed model balances the cart-pole in closed loop, carrying its hidden state."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from lnn_service import cartpole
from lnn_service.cfc import FloatArray
from lnn_service.manifest import Manifest
from lnn_service.settings import DEFAULT_MODEL_DIR

EPISODES = 100
STEPS = 500


def balance_rate(version: str, seed: int) -> float:
    directory = DEFAULT_MODEL_DIR / version
    manifest = Manifest.from_json((directory / "manifest.json").read_text())
    sess = ort.InferenceSession(
        str(directory / manifest.onnx_file), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(seed)
    state: FloatArray = rng.uniform(-0.1, 0.1, (EPISODES, 4))
    hidden = np.zeros((EPISODES, manifest.state_dim), dtype=np.float32)
    dt = np.full((EPISODES, 1), manifest.default_dt, dtype=np.float32)
    alive = np.ones(EPISODES, dtype=bool)
    for _ in range(STEPS):
        force, hidden = sess.run(
            None, {"input": state.astype(np.float32), "state": hidden, "dt": dt}
        )
        assert np.all(np.abs(force) <= cartpole.FORCE_LIMIT)
        state = cartpole.step(state, force[:, 0].astype(np.float64))
        alive &= cartpole.balanced(state)
    return float(alive.mean())


def test_committed_models_balance_from_random_starts() -> None:
    for version in ("cartpole-v1", "cartpole-v2"):
        rate = balance_rate(version, seed=2024)
        print(f"{version}: {rate:.0%} of {EPISODES} episodes balanced for {STEPS} steps")
        assert rate >= 0.95


def test_doing_nothing_does_not_balance() -> None:
    # Guards the simulation itself: without control the pole falls.
    rng = np.random.default_rng(0)
    state: FloatArray = rng.uniform(-0.1, 0.1, (EPISODES, 4))
    alive = np.ones(EPISODES, dtype=bool)
    for _ in range(STEPS):
        state = cartpole.step(state, np.zeros(EPISODES))
        alive &= cartpole.balanced(state)
    assert alive.mean() < 0.05
