"""Prometheus durations (``1h30m``, ``15s``, ``500ms``) to seconds and back."""

from __future__ import annotations

import re

UNITS = {"y": 365 * 86400.0, "w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
UNITS_MS = {**UNITS, "ms": 0.001}
# Longest unit names first, so "ms" is not read as minutes followed by a stray "s".
PART = r"\d+(?:ms|[ywdhms])"
DURATION = re.compile(rf"(?:{PART})+")
_PARTS = re.compile(r"(\d+)(ms|[ywdhms])")


def seconds(text: str) -> float:
    """``"1h30m"`` → 5400.0; ``ValueError`` for anything that is not a Prometheus duration."""
    text = text.strip()
    if text == "0":
        return 0.0
    if not DURATION.fullmatch(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * UNITS_MS[unit] for n, unit in _PARTS.findall(text))


def render(value: float) -> str:
    """Seconds as the shortest exact duration: 90 → ``"1m30s"``, 0.5 → ``"500ms"``."""
    millis = round(value * 1000)
    if millis == 0:
        return "0s"
    out = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
