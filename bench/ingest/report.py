"""The report: the main table, the details table and the verdicts on the targets."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence

from bench.ingest.options import Options
from bench.ingest.report_scenarios import fmt, scenario_report
from bench.ingest.targets import NOOP, Results, Row

TARGET_P99_MS = 50.0
TARGET_RATE = 200.0
TARGET_CEILING_SHARE = 0.5


def _markdown(
    header: str, rows: Sequence[Row], cells: Callable[[Row], Sequence[str]]
) -> Iterator[str]:
    """A Markdown table with a line per row: its target, its scenario, then its ``cells``.
    ``header`` names the columns after those two (``a | b:``); a name ending in ``:`` (a
    number) is right-aligned."""
    columns = ["target", "scenario", *header.split(" | ")]
    yield "| " + " | ".join(c.removesuffix(":") for c in columns) + " |"
    yield "| " + " | ".join("---:" if c.endswith(":") else "---" for c in columns) + " |"
    for r in rows:
        yield "| " + " | ".join((r.target, r.scenario, *cells(r))) + " |"


def _main_cells(r: Row, best: float) -> Sequence[str]:
    processed = "–" if r.processed_per_s is None else fmt(r.processed_per_s)
    if r.notes and r.processed_per_s is not None:
        processed += " *"
    share = "–"
    if r.processed_per_s is not None and best > 0:
        share = fmt(100 * r.processed_per_s / best, 1)
    return [
        str(r.load.requests),
        fmt(r.load.acks_per_s),
        processed,
        share,
        fmt(r.load.p50_ms, 1),
        fmt(r.load.p99_ms, 1),
        str(r.load.errors),
        fmt(r.peak_rss_mb),
    ]


def _detail_cells(r: Row) -> Sequence[str]:
    gen_share = r.load.generator_cpu_s / r.load.generator_wall_s
    notes = "; ".join((r.load.detail, *(f"* {n}" for n in r.notes)))
    return [fmt(r.load.max_ms, 1), fmt(100 * r.server_cpu_share), fmt(100 * gen_share), notes]


def table(rows: Sequence[Row]) -> Iterator[str]:
    """The main table; *processed share* is processed/s as a % of the no-op ceiling."""
    header = (
        "requests: | acks/s: | processed/s: | processed share %: | ack p50 ms: | ack p99 ms: "
        "| errors: | peak RSS MB:"
    )
    best, _ = ceiling(rows)
    return _markdown(header, rows, lambda r: _main_cells(r, best))


def details(rows: Sequence[Row]) -> Iterator[str]:
    """Numbers that explain the main table: where the CPU went and what the answers were."""
    header = "ack max ms: | server CPU %: | load generator CPU %: | answers and notes"
    return _markdown(header, rows, _detail_cells)


def ceiling(rows: Sequence[Row]) -> tuple[float, list[float]]:
    runs = [
        r.load.acks_per_s
        for r in rows
        if r.target.startswith(NOOP) and r.scenario.startswith("(b)")
    ]
    valid = [v for v in runs if not math.isnan(v)]
    return (max(valid) if valid else math.nan), runs


def verdicts(rows: Sequence[Row], o: Options) -> Iterator[str]:
    best, runs = ceiling(rows)
    shown = ", ".join(f"{fmt(v)}" for v in runs)
    yield f"- no-op closed-loop ceiling: {fmt(best)} acks/s (runs before and after: {shown})"
    if o.rate != TARGET_RATE:
        yield f"- note: the p99 target is set at {TARGET_RATE:g}/s; this run offered {o.rate:g}/s"
    for r in rows:
        if r.processed_per_s is None:
            continue
        if r.scenario.startswith("(a)"):
            ok = r.load.p99_ms < TARGET_P99_MS and r.load.errors == 0
            yield (
                f"- {r.target}: ack p99 at {o.rate:g}/s < {TARGET_P99_MS:g} ms: "
                f"{'met' if ok else 'not met'} ({fmt(r.load.p99_ms, 1)} ms, "
                f"{r.load.errors} errors)"
            )
        else:
            share = r.load.acks_per_s / best if best > 0 else math.nan
            ok = share >= TARGET_CEILING_SHARE
            yield (
                f"- {r.target}: closed-loop acks/s ≥ {TARGET_CEILING_SHARE:.0%} of no-op: "
                f"{'met' if ok else 'not met'} ({fmt(100 * share, 1)} %: "
                f"{fmt(r.load.acks_per_s)} of {fmt(best)}; {r.load.errors} errors)"
            )
            processed_share = r.processed_per_s / best if best > 0 else math.nan
            yield (
                f"- {r.target}: processed/s in (b), for comparison only: "
                f"{fmt(r.processed_per_s)} ({fmt(100 * processed_share, 1)} % of no-op)"
            )


def cpu_list(cpus: frozenset[int] | None) -> str:
    return "any" if cpus is None else ",".join(map(str, sorted(cpus)))


def report(results: Results, o: Options) -> None:
    rows, failures = results.rows, results.failures
    loops = []
    if o.wants("open"):
        loops.append(f"(a) {o.rate:g}/s for {o.duration_s:g} s over {o.connections} connections")
    if o.wants("closed"):
        loops.append(f"(b) wrk -t1 -c{o.concurrency} for {round(o.closed_duration_s)} s")
    print(
        f"# ingest benchmark: {os.cpu_count()} CPUs, loopback, scenarios "
        f"{','.join(o.scenarios)}; {'; '.join([*loops, ''])}load generators on CPU "
        f"{cpu_list(o.generator_cpus)}, no-op on CPU {cpu_list(o.noop_cpus)}, firebreak on any"
    )
    if rows:
        print()
        print("\n".join(table(rows)))
        print()
        print("\n".join(details(rows)))
        print()
        print("\n".join(verdicts(rows, o)))
    extra = scenario_report(results.large, results.storms, results.latency, o)
    print("\n".join(extra))
    for failure in failures:
        print(f"\nFAILED {failure}")
