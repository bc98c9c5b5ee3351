"""Write a model version (ONNX, weights, manifest with sha256) into a registry directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from lnn_service.cfc import DEFAULT_DT, CfcWeights
from lnn_service.manifest import MANIFEST_NAME, Golden, Manifest, sha256_file
from lnn_service.onnx_graph import build_model

# Small enough that the LQR force is not saturated, so the check is sensitive.
GOLDEN_INPUT = [0.1, -0.2, 0.02, 0.05]
ONNX_NAME = "model.onnx"
WEIGHTS_NAME = "weights.npz"


def golden_output(onnx_path: Path, n_hidden: int) -> list[float]:
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(
        ["output"],
        {
            "input": np.array([GOLDEN_INPUT], dtype=np.float32),
            "state": np.zeros((1, n_hidden), dtype=np.float32),
            "dt": np.full((1, 1), DEFAULT_DT, dtype=np.float32),
        },
    )[0]
    return [float(v) for v in out[0]]


def write_version(
    weights: CfcWeights, root: Path, version: str, notes: dict[str, Any] | None = None
) -> Path:
    """Create ``root/version`` with the ONNX model, the weights and the manifest."""
    target = root / version
    target.mkdir(parents=True, exist_ok=True)
    onnx_path = target / ONNX_NAME
    onnx_path.write_bytes(
        build_model(weights, doc=f"CfC cart-pole policy {version}").SerializeToString()
    )
    weights.save(target / WEIGHTS_NAME)
    manifest = Manifest(
        version=version,
        onnx_file=ONNX_NAME,
        weights_file=WEIGHTS_NAME,
        files={name: sha256_file(target / name) for name in (ONNX_NAME, WEIGHTS_NAME)},
        input_dim=weights.n_in,
        state_dim=weights.n_hidden,
        output_dim=weights.n_out,
        default_dt=DEFAULT_DT,
        golden=Golden(
            input=GOLDEN_INPUT, dt=DEFAULT_DT, output=golden_output(onnx_path, weights.n_hidden)
        ),
        notes=dict(notes or {}),
    )
    (target / MANIFEST_NAME).write_text(manifest.to_json())
    return target
