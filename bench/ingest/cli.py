"""Command line of ``python -m bench.ingest``; what it measures is in docs/ingest-benchmark.md."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.ingest.generators import WRK
from bench.ingest.options import Options
from bench.ingest.report import TARGET_RATE, report
from bench.ingest.targets import run

DESCRIPTION = (
    "Alertmanager ingest benchmark: firebreak on SQLite and PostgreSQL against a no-op ceiling."
    " Scenarios: (a) open loop, (b) closed loop, large groups re-sent, a storm for one"
    " service, and receipt-to-Slack latency at a fake Slack."
)
SCENARIOS = ("open", "closed", "large", "storm", "latency")


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=DESCRIPTION,
        epilog="What it measures: docs/ingest-benchmark.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--rate", type=float, default=TARGET_RATE, help="(a) deliveries per second")
    add("--duration", type=float, default=10.0, help="(a) seconds")
    add("--connections", type=int, default=64, help="(a) keep-alive connections")
    add("--request-timeout", type=float, default=60.0, help="(a) seconds after the due time")
    add("--concurrency", type=int, default=64, help="(b) wrk connections")
    add("--closed-duration", type=float, default=5.0, help="(b) seconds, whole")
    add(
        "--catch-up-timeout",
        type=float,
        default=300.0,
        help="(a), (b): seconds to wait for processing",
    )
    add("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    add("--no-pin", action="store_true", help="let the scheduler place load generators freely")
    add("--keep", type=Path, help="keep server logs and the SQLite file here (else a temp dir)")
    add(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated subset: open (a), closed (b), large, storm, latency",
    )
    add("--large-groups", type=int, default=10, help="large: groups")
    add("--large-alerts", type=int, default=1000, help="large: alerts per group")
    add("--large-resends", type=int, default=5, help="large: re-sends of each group")
    add("--storm-groups", type=int, default=1000, help="storm: single-alert groups, one service")
    add("--storm-rate", type=float, default=100.0, help="storm: groups per second")
    add(
        "--storm-alertname",
        default="LNNServiceDown",
        help="storm: alertname (critical); the shipped policy pages for *Down (P0)",
    )
    add("--latency-rate", type=float, default=200.0, help="latency: deliveries per second")
    add("--latency-duration", type=float, default=5.0, help="latency: seconds")
    add("--slack-wait", type=float, default=30.0, help="latency: seconds to wait for Slack calls")
    add(
        "--scenario-timeout",
        type=float,
        default=120.0,
        help="large, storm, latency: seconds to wait for processing",
    )
    args = parser.parse_args(argv)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    if not scenarios or set(scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: a comma-separated subset of {', '.join(SCENARIOS)}")
    sizes = (args.large_groups, args.large_alerts, args.large_resends, args.storm_groups)
    rates = (args.storm_rate, args.latency_rate, args.latency_duration, args.scenario_timeout)
    if min(*sizes, *rates) <= 0 or args.slack_wait < 0:
        parser.error("scenario sizes, rates and durations must be positive")
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    numbers = (args.rate, args.duration, args.connections, args.request_timeout)
    if min(*numbers, args.concurrency, args.closed_duration, args.catch_up_timeout) <= 0:
        parser.error("rates, durations, counts and timeouts must be positive")
    generator_cpus, noop_cpus = placement(pin=not args.no_pin)
    return Options(
        rate=args.rate,
        duration_s=args.duration,
        concurrency=args.concurrency,
        closed_duration_s=args.closed_duration,
        connections=args.connections,
        request_timeout_s=args.request_timeout,
        catch_up_timeout_s=args.catch_up_timeout,
        backends=backends,
        workdir=args.keep,
        generator_cpus=generator_cpus,
        noop_cpus=noop_cpus,
        scenarios=scenarios,
        large_groups=args.large_groups,
        large_alerts=args.large_alerts,
        large_resends=args.large_resends,
        storm_groups=args.storm_groups,
        storm_rate=args.storm_rate,
        storm_alertname=args.storm_alertname,
        latency_rate=args.latency_rate,
        latency_duration_s=args.latency_duration,
        slack_wait_s=args.slack_wait,
        scenario_timeout_s=args.scenario_timeout,
    )


def placement(*, pin: bool) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """Keep the load generator off the no-op server's core.

    With both free, the scheduler often puts wrk's thread on the no-op server's core (they
    wake each other over loopback), and the ceiling swings from run to run. The no-op is
    single-threaded, so giving it every core but the generator's takes nothing from it.
    firebreak stays free to use every core (its database threads and PostgreSQL need them);
    if it shares the generator's, that only counts against it."""
    # The figures behind this (how far the ceiling swung unpinned) are dated in
    # docs/ingest-benchmark.md, "Figures that code comments used to quote": a figure is only
    # as good as the day it was measured, and a comment would not say which day.
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return frozenset(cpus[-1:]), frozenset(cpus[:-1])


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so every server is stopped and the database dropped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    if options.wants("closed") and not Path(WRK).exists():
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        results = run(options)
        report(results, options)
        return 1 if results.failures else 0
    print("interrupted: all servers stopped", file=sys.stderr)
    return 130
