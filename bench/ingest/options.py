"""The benchmark's options, as the command line sets them (defaults: ``cli.parse``)."""

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
    scenarios: tuple[str, ...] = ("open", "closed", "large", "storm", "latency")
    large_groups: int = 10
    large_alerts: int = 1000
    large_resends: int = 5
    storm_groups: int = 1000
    storm_rate: float = 100.0
    storm_alertname: str = "LNNServiceDown"
    latency_rate: float = 200.0
    latency_duration_s: float = 5.0
    slack_wait_s: float = 30.0
    # Bounds each wait for processing in the large, storm and latency scenarios.
    scenario_timeout_s: float = 120.0

    def wants(self, *names: str) -> bool:
        return any(name in self.scenarios for name in names)
