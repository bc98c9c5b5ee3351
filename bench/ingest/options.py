"""The benchmark's options, as the command line sets them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    rate: float
    duration_s: float
    concurrency: int
    closed_duration_s: float
    connections: int
    request_timeout_s: float
    catch_up_timeout_s: float
    backends: tuple[str, ...]
    workdir: Path | None
    # Load generators get the last CPU, the no-op server the others; firebreak may use all.
    generator_cpus: frozenset[int] | None
    noop_cpus: frozenset[int] | None
