"""The drill fault switch: added latency and an error rate, off by default."""

from __future__ import annotations

import random
from dataclasses import dataclass

from lnn_service.errors import BadInput

MAX_LATENCY_MS = 10_000.0


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or self.error_rate > 0

    def should_fail(self) -> bool:
        return self.error_rate > 0 and random.random() < self.error_rate

    @classmethod
    def parse(cls, body: object) -> Faults:
        """From ``{"latency_ms": float?, "error_rate": float?}``; omitted means 0 (off)."""
        if not isinstance(body, dict):
            raise BadInput("body must be a JSON object")
        unknown = set(body) - {"latency_ms", "error_rate"}
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
        return cls(**values)
