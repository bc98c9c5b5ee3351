"""The drill fault switch: added latency, an error rate, or the whole service down; off by
default."""

from __future__ import annotations

import random
from dataclasses import dataclass

from lnn_service.errors import BadInput

MAX_LATENCY_MS = 10_000.0


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    # Every endpoint but /admin/* answers 503, /metrics included, so Prometheus sees the
    # target down (``up`` 0) while the drill can still be lifted.
    down: bool = False

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or self.error_rate > 0 or self.down

    def should_fail(self) -> bool:
        return self.error_rate > 0 and random.random() < self.error_rate

    @classmethod
    def parse(cls, body: object) -> Faults:
        """From ``{"latency_ms": float?, "error_rate": float?, "down": bool?}``; omitted means
        0 or false (off)."""
        if not isinstance(body, dict):
            raise BadInput("body must be a JSON object")
        unknown = set(body) - {"latency_ms", "error_rate", "down"}
        if unknown:
            raise BadInput(f"unknown field(s): {', '.join(sorted(unknown))}")
        values: dict[str, float] = {}
        for key, upper in (("latency_ms", MAX_LATENCY_MS), ("error_rate", 1.0)):
            raw = body.get(key, 0.0)
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise BadInput(f"{key} must be a number")
            if not 0.0 <= raw <= upper:
                raise BadInput(f"{key} must be between 0 and {upper:g}")
            values[key] = float(raw)
        down = body.get("down", False)
        if not isinstance(down, bool):
            raise BadInput("down must be true or false")
        return cls(**values, down=down)
