"""Classic cart-pole (Barto, Sutton and Anderson 1983; Gym CartPole-v1) and its LQR.

Vectorised over N environments; a state row is ``[x, x_dot, theta, theta_dot]``.
The force is continuous (not Gym's two discrete pushes) so an LQR can drive it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating[Any]]

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
HALF_LENGTH = 0.5
TAU = 0.02
FORCE_LIMIT = 10.0
ANGLE_LIMIT = 12 * 2 * math.pi / 360
POSITION_LIMIT = 2.4


def step(state: Array, force: Array) -> Array:
    """One explicit Euler step of Gym's cart-pole equations; ``force`` has shape (N,)."""
    x, x_dot, theta, theta_dot = state.T
    total = CART_MASS + POLE_MASS
    pml = POLE_MASS * HALF_LENGTH
    cos, sin = np.cos(theta), np.sin(theta)
    temp = (force + pml * theta_dot**2 * sin) / total
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / total)
    )
    x_acc = temp - pml * theta_acc * cos / total
    return np.stack(
        [
            x + TAU * x_dot,
            x_dot + TAU * x_acc,
            theta + TAU * theta_dot,
            theta_dot + TAU * theta_acc,
        ],
        axis=1,
    )


def balanced(state: Array) -> npt.NDArray[np.bool_]:
    """Rows still inside the episode bounds (|angle| < 12 degrees, |x| < 2.4 m)."""
    return (np.abs(state[:, 2]) < ANGLE_LIMIT) & (np.abs(state[:, 0]) < POSITION_LIMIT)


def linearise(eps: float = 1e-6) -> tuple[Array, Array]:
    """Discrete-time (A, B) of :func:`step` at the upright equilibrium, by central differences."""
    zero = np.zeros((1, 4))
    a = np.zeros((4, 4))
    for i in range(4):
        d = np.zeros((1, 4))
        d[0, i] = eps
        a[:, i] = (step(zero + d, np.zeros(1)) - step(zero - d, np.zeros(1)))[0] / (2 * eps)
    b = ((step(zero, np.array([eps])) - step(zero, np.array([-eps])))[0] / (2 * eps)).reshape(4, 1)
    return a, b


@dataclass(frozen=True)
class Lqr:
    """State feedback ``u = clip(-K x, -10, 10)`` from the discrete Riccati equation."""

    gain: Array  # (1, 4)

    @classmethod
    def design(
        cls, q: tuple[float, float, float, float] = (1.0, 1.0, 10.0, 1.0), r: float = 0.1
    ) -> Lqr:
        a, b = linearise()
        qm = np.diag(q)
        p = qm.copy()
        # Fixed-point iteration converges for this stabilisable pair; 5000 is plenty.
        for _ in range(5000):
            bt_p = b.T @ p
            k = np.linalg.solve(r + bt_p @ b, bt_p @ a)
            p_next = qm + a.T @ p @ (a - b @ k)
            if np.max(np.abs(p_next - p)) < 1e-10:
                p = p_next
                break
            p = p_next
        bt_p = b.T @ p
        return cls(gain=np.linalg.solve(r + bt_p @ b, bt_p @ a))

    def force(self, state: Array) -> Array:
        return np.clip(-(state @ self.gain.T)[:, 0], -FORCE_LIMIT, FORCE_LIMIT)
