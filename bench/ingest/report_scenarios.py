"""The report's tables for the large, storm and latency scenarios."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from bench.ingest.load import percentile_ms
from bench.ingest.options import Options
from bench.ingest.scenarios import LargeRow, LatencyRow, StormRow


def fmt(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Iterator[Sequence[str]]) -> Iterator[str]:
    """Markdown; a column name ending in ``:`` is a number, right-aligned."""
    yield "| " + " | ".join(c.removesuffix(":") for c in header) + " |"
    yield "| " + " | ".join("---:" if c.endswith(":") else "---" for c in header) + " |"
    for row in rows:
        yield "| " + " | ".join(row) + " |"


def _mark(value: str, done: bool) -> str:
    return value if done else value + " *"


def large_table(rows: Sequence[LargeRow]) -> Iterator[str]:
    header = ("target", "phase", "deliveries:", "alerts:", "alerts/s processed:", "errors:")
    return _table(
        header,
        (
            (
                r.target,
                r.phase,
                str(r.load.requests),
                str(r.alerts),
                _mark(fmt(r.alerts_per_s), r.caught_up),
                str(r.load.errors),
            )
            for r in rows
        ),
    )


def storm_table(rows: Sequence[StormRow]) -> Iterator[str]:
    header = (
        "target",
        "groups:",
        "acked:",
        "alerts recorded:",
        "incidents:",
        "channels created:",
        "pages (PagerDuty rows):",
        "page entries:",
        "s until all recorded:",
    )
    return _table(
        header,
        (
            (
                r.target,
                str(r.load.requests),
                str(r.load.acked),
                str(r.stored.episodes),
                str(r.stored.incidents),
                str(r.stored.channels),
                str(r.stored.pages),
                str(r.stored.page_entries),
                _mark(fmt(r.seconds_to_recorded, 1), r.caught_up),
            )
            for r in rows
        ),
    )


def ms_cell(samples: Sequence[float], q: float, wait_s: float) -> str:
    """A percentile in ms; past the samples that arrived it is only known to be above."""
    value = percentile_ms(sorted(samples), q)
    return f"> {wait_s * 1000:,.0f}" if math.isinf(value) else fmt(value, 1)


def latency_table(rows: Sequence[LatencyRow], o: Options) -> Iterator[str]:
    header = (
        "target",
        "deliveries:",
        "recorded:",
        "recorded p50 ms:",
        "recorded p99 ms:",
        "incidents:",
        "first Slack calls:",
        "Slack p50 ms:",
        "Slack p99 ms:",
    )
    return _table(
        header,
        (
            (
                r.target,
                str(r.load.acked),
                _mark(str(sum(not math.isinf(s) for s in r.recorded_s)), r.caught_up),
                ms_cell(r.recorded_s, 50, o.scenario_timeout_s),
                ms_cell(r.recorded_s, 99, o.scenario_timeout_s),
                str(r.incidents),
                str(sum(not math.isinf(s) for s in r.first_call_s)),
                ms_cell(r.first_call_s, 50, r.wait_s),
                ms_cell(r.first_call_s, 99, r.wait_s),
            )
            for r in rows
        ),
    )


def scenario_report(
    large: Sequence[LargeRow], storms: Sequence[StormRow], latency: Sequence[LatencyRow], o: Options
) -> Iterator[str]:
    """The three tables, each with a line saying what it is; ``*``: processing had not caught
    up within ``--scenario-timeout`` (the figure is then a bound)."""
    if large:
        yield (
            f"\n## large groups: {o.large_groups} × {o.large_alerts} alerts, then each re-sent "
            f"{o.large_resends} times (* not caught up in {o.scenario_timeout_s:g} s)\n"
        )
        yield from large_table(large)
    if storms:
        yield (
            f"\n## storm: {o.storm_groups} single-alert groups ({o.storm_alertname}) for one "
            f"service at {o.storm_rate:g}/s (no Slack token or routing key: channels and pages "
            "are outbox rows)\n"
        )
        yield from storm_table(storms)
    if latency:
        yield (
            f"\n## latency: {o.latency_rate:g}/s for {o.latency_duration_s:g} s, one service, "
            f"fake Slack; receipt → alert recorded, and receipt → first Slack call per incident "
            f"(waited {o.slack_wait_s:g} s after processing; '>' past the calls that came; "
            f"* processing not caught up in {o.scenario_timeout_s:g} s)\n"
        )
        yield from latency_table(latency, o)
