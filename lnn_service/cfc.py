"""Numpy reference of the closed-form continuous-time (CfC) cell.

One step, for input ``u`` and previous hidden state ``x``::

    z = tanh([u, x] @ W_bb + b_bb)                  # shared backbone
    f = z @ W_f + b_f                               # time-constant head (linear)
    g = tanh(z @ W_g + b_g)
    h = tanh(z @ W_h + b_h)
    x' = sigmoid(-f * t) * g + (1 - sigmoid(-f * t)) * h
    y = clip(x' @ W_out + b_out, -limit, limit)

The three heads are stored as one matrix (columns ``f | g | h``) because that is
how the ONNX graph computes them: one GEMM instead of three.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
DEFAULT_DT = 0.02


# The matrices and bias vectors of ``CfcWeights``, in the order they are saved.
_ARRAYS = ("w_bb", "b_bb", "w_heads", "b_heads", "w_out", "b_out")


@dataclass(frozen=True)
class CfcWeights:
    """All parameters of a CfC cell with a linear read-out."""

    w_bb: FloatArray  # (n_in + n_hidden, n_backbone)
    b_bb: FloatArray  # (n_backbone,)
    w_heads: FloatArray  # (n_backbone, 3 * n_hidden): f | g | h
    b_heads: FloatArray  # (3 * n_hidden,)
    w_out: FloatArray  # (n_hidden, n_out)
    b_out: FloatArray  # (n_out,)
    out_limit: float

    @property
    def n_hidden(self) -> int:
        return int(self.w_out.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.w_bb.shape[0]) - self.n_hidden

    @property
    def n_out(self) -> int:
        return int(self.w_out.shape[1])

    @property
    def n_backbone(self) -> int:
        return int(self.w_bb.shape[1])

    def flops_per_inference(self) -> int:
        """Floating-point operations of one step (multiply and add counted apart)."""
        gemm = 2 * (
            (self.n_in + self.n_hidden) * self.n_backbone
            + self.n_backbone * 3 * self.n_hidden
            + self.n_hidden * self.n_out
        )
        biases = self.n_backbone + 3 * self.n_hidden + self.n_out
        # tanh(backbone); tanh(g), tanh(h); -f*t (2 ops); sigmoid; blend h + gate*(g-h)
        # (3 ops). A transcendental counts as one operation.
        n = self.n_hidden
        elementwise = self.n_backbone + 2 * n + 2 * n + n + 3 * n
        return gemm + biases + elementwise + 2 * self.n_out  # + clip to the limits

    def save(self, path: Path) -> None:
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        with path.open("wb") as fh:
            np.savez(fh, **arrays, out_limit=np.array(self.out_limit))

    @classmethod
    def load(cls, path: Path) -> CfcWeights:
        with np.load(path, allow_pickle=False) as data:
            arrays: dict[str, Any] = {name: data[name] for name in _ARRAYS}
            return cls(**arrays, out_limit=float(data["out_limit"]))

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        *,
        n_in: int = 4,
        n_hidden: int = 32,
        n_backbone: int = 64,
        n_out: int = 1,
        out_limit: float = 10.0,
    ) -> CfcWeights:
        """Glorot-scaled random weights, for tests and as a training start."""

        def dense(rows: int, cols: int) -> FloatArray:
            return rng.normal(0.0, np.sqrt(2.0 / (rows + cols)), size=(rows, cols))

        return cls(
            w_bb=dense(n_in + n_hidden, n_backbone),
            b_bb=rng.normal(0.0, 0.1, size=n_backbone),
            w_heads=dense(n_backbone, 3 * n_hidden),
            b_heads=rng.normal(0.0, 0.1, size=3 * n_hidden),
            w_out=dense(n_hidden, n_out),
            b_out=np.zeros(n_out),
            out_limit=out_limit,
        )


def _sigmoid(v: FloatArray) -> FloatArray:
    # Split by sign so exp never overflows.
    out = np.empty_like(v)
    pos = v >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-v[pos]))
    e = np.exp(v[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def step(
    weights: CfcWeights, inputs: FloatArray, state: FloatArray, dt: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """One CfC step for a batch: ``inputs`` (N, n_in), ``state`` (N, n_hidden), ``dt`` (N, 1).

    Returns ``(outputs (N, n_out), new_state (N, n_hidden))``. Computes in the dtype of
    the weights (float64 for the reference).
    """
    n = weights.n_hidden
    z = np.tanh(np.concatenate([inputs, state], axis=1) @ weights.w_bb + weights.b_bb)
    heads = z @ weights.w_heads + weights.b_heads
    f = heads[:, :n]
    g = np.tanh(heads[:, n : 2 * n])
    h = np.tanh(heads[:, 2 * n :])
    gate = _sigmoid(-f * dt)
    new_state = gate * g + (1.0 - gate) * h
    out = np.clip(new_state @ weights.w_out + weights.b_out, -weights.out_limit, weights.out_limit)
    return out, new_state


def rollout(
    weights: CfcWeights, inputs: FloatArray, state: FloatArray, dt: float = DEFAULT_DT
) -> tuple[FloatArray, FloatArray]:
    """Run ``inputs`` (T, N, n_in) through time; returns outputs (T, N, n_out) and final state."""
    outs = []
    for u in inputs:
        y, state = step(weights, u, state, dt)
        outs.append(y)
    return np.stack(outs), state
