"""Train a CfC policy to imitate the cart-pole LQR and write a registry version.

Run: ``.venv/bin/python -m lnn_service.training.train --version cartpole-v1``
(after ``pip install -e '.[train]'`` and ``pip install torch==2.13.0``).

Behaviour cloning with DAgger: the first dataset comes from LQR roll-outs with
action noise; later rounds roll the student out and label the states it visits
with the LQR force. Sequences are trained with full back-propagation through time
from a zero hidden state, as the service starts a caller without state.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from lnn_service import cartpole
from lnn_service.cfc import DEFAULT_DT, CfcWeights, FloatArray
from lnn_service.training.export import write_version

# Typical magnitude of each state coordinate: inputs are divided by it, and the
# division is folded into the backbone weights at export.
INPUT_SCALE = np.array([0.5, 0.5, 0.1, 0.5])
OUT_SCALE = cartpole.FORCE_LIMIT


class TorchCfc(torch.nn.Module):
    """The same cell as :func:`lnn_service.cfc.step`, on normalised inputs and outputs."""

    def __init__(self, n_in: int, n_hidden: int, n_backbone: int) -> None:
        super().__init__()
        self.n_hidden = n_hidden
        self.backbone = torch.nn.Linear(n_in + n_hidden, n_backbone)
        self.heads = torch.nn.Linear(n_backbone, 3 * n_hidden)
        self.readout = torch.nn.Linear(n_hidden, 1)

    def forward(self, seq: torch.Tensor, dt: float) -> torch.Tensor:
        """``seq`` (T, B, n_in) -> outputs (T, B)."""
        n = self.n_hidden
        state = seq.new_zeros(seq.shape[1], n)
        outs = []
        for u in seq:
            z = torch.tanh(self.backbone(torch.cat([u, state], dim=1)))
            heads = self.heads(z)
            gate = torch.sigmoid(-heads[:, :n] * dt)
            g, h = torch.tanh(heads[:, n : 2 * n]), torch.tanh(heads[:, 2 * n :])
            state = gate * g + (1 - gate) * h
            outs.append(self.readout(state)[:, 0])
        return torch.stack(outs)

    def to_weights(self) -> CfcWeights:
        w_bb = self.backbone.weight.detach().double().numpy().T.copy()
        n_in = w_bb.shape[0] - self.n_hidden
        w_bb[:n_in] /= INPUT_SCALE[:, None]
        return CfcWeights(
            w_bb=w_bb,
            b_bb=self.backbone.bias.detach().double().numpy().copy(),
            w_heads=self.heads.weight.detach().double().numpy().T.copy(),
            b_heads=self.heads.bias.detach().double().numpy().copy(),
            w_out=self.readout.weight.detach().double().numpy().T * OUT_SCALE,
            b_out=self.readout.bias.detach().double().numpy() * OUT_SCALE,
            out_limit=cartpole.FORCE_LIMIT,
        )


def expert_rollouts(
    lqr: cartpole.Lqr, rng: np.random.Generator, n: int, steps: int, spread: float, noise: float
) -> np.ndarray:
    """States (T, n, 4) visited by the LQR with Gaussian action noise."""
    state: FloatArray = rng.uniform(-spread, spread, size=(n, 4))
    seq = []
    for _ in range(steps):
        seq.append(state)
        force = np.clip(lqr.force(state) + rng.normal(0, noise, n), -10, 10)
        state = cartpole.step(state, force)
    return np.stack(seq)


def student_rollouts(
    weights: CfcWeights, rng: np.random.Generator, n: int, steps: int, spread: float
) -> np.ndarray:
    """States (T, n, 4) visited by the student policy itself, carrying its hidden state."""
    from lnn_service import cfc

    state: FloatArray = rng.uniform(-spread, spread, size=(n, 4))
    hidden: FloatArray = np.zeros((n, weights.n_hidden))
    seq = []
    for _ in range(steps):
        seq.append(state)
        force, hidden = cfc.step(weights, state, hidden, DEFAULT_DT)
        state = cartpole.step(state, force[:, 0])
        # Reset runaways so the data stays near the region the policy must hold.
        lost = ~cartpole.balanced(state)
        state[lost] = rng.uniform(-spread, spread, size=(int(lost.sum()), 4))
        hidden[lost] = 0.0
    return np.stack(seq)


def balance_rate(weights: CfcWeights, seed: int, episodes: int = 100, steps: int = 500) -> float:
    from lnn_service import cfc

    rng = np.random.default_rng(seed)
    state: FloatArray = rng.uniform(-0.1, 0.1, size=(episodes, 4))
    hidden: FloatArray = np.zeros((episodes, weights.n_hidden))
    alive = np.ones(episodes, dtype=bool)
    for _ in range(steps):
        force, hidden = cfc.step(weights, state, hidden, DEFAULT_DT)
        state = cartpole.step(state, force[:, 0])
        alive &= cartpole.balanced(state)
    return float(alive.mean())


def fit(
    model: TorchCfc,
    states: np.ndarray,
    labels: np.ndarray,
    iters: int,
    seed: int,
) -> float:
    torch.manual_seed(seed)
    x = torch.tensor(states / INPUT_SCALE, dtype=torch.float32)
    y = torch.tensor(labels / OUT_SCALE, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    loss_value = float("nan")
    for _ in range(iters):
        idx = torch.randint(0, x.shape[1], (256,))
        loss = torch.mean((model(x[:, idx], DEFAULT_DT) - y[:, idx]) ** 2)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        loss_value = loss.item()
    return loss_value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="registry version name, e.g. cartpole-v1")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "models")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--backbone", type=int, default=64)
    parser.add_argument("--iters", type=int, default=300, help="optimiser steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="DAgger rounds after the first")
    parser.add_argument("--steps", type=int, default=150, help="sequence length")
    args = parser.parse_args(argv)

    # One thread: on a shared 2-core machine OpenMP spin-waits make two slower.
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    lqr = cartpole.Lqr.design()
    model = TorchCfc(4, args.hidden, args.backbone)
    states = expert_rollouts(lqr, rng, 2048, args.steps, spread=0.2, noise=2.0)
    for round_ in range(args.rounds + 1):
        labels = lqr.force(states.reshape(-1, 4)).reshape(states.shape[:2])
        loss = fit(model, states, labels, args.iters, args.seed + round_)
        weights = model.to_weights()
        rate = balance_rate(weights, seed=1000 + round_)
        print(f"round {round_}: loss {loss:.2e}, balanced {rate:.0%}", flush=True)
        fresh = student_rollouts(weights, rng, 1024, args.steps, spread=0.2)
        states = np.concatenate([states, fresh], axis=1)
    weights = model.to_weights()
    rate = balance_rate(weights, seed=12345)
    path = write_version(
        weights,
        args.out,
        args.version,
        notes={"train_seed": args.seed, "balance_rate_100x500": rate, "teacher": "LQR"},
    )
    print(f"wrote {path} (balanced {rate:.0%} of 100 episodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
