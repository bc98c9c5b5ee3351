"""The issue-17 scenarios on one ``firebreak serve``: large groups, a storm for one service,
and receipt-to-Slack latency at a fake Slack. What they measure: docs/ingest-benchmark.md."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.ingest.database import Recorded, receipts, recorded
from bench.ingest.generators import Load, open_loop
from bench.ingest.options import Options
from bench.ingest.progress import poll, processed, wait_for_count
from bench.ingest.servers import Server

# Large groups are sent as fast as the connections allow (one connection per group): the
# figure is how fast processing drains them, not the schedule.
BURST_RATE = 1000.0
PAGE_SETTLE_S = 10.0
SLACK_POLL_S = 1.0
# ``inc-20261122-0042-…``: the channel names firebreak gives (bot/integrations/slack/channels.py).
CHANNEL = re.compile(r"^inc-\d{8}-(\d+)")


@dataclass(frozen=True)
class LargeRow:
    target: str
    phase: str
    load: Load
    alerts: int
    alerts_per_s: float
    caught_up: bool


@dataclass(frozen=True)
class StormRow:
    target: str
    load: Load
    seconds_to_recorded: float
    caught_up: bool
    stored: Recorded


@dataclass(frozen=True)
class LatencyRow:
    target: str
    load: Load
    recorded_s: Sequence[float]  # per delivery, receipt → alert recorded; inf: never
    first_call_s: Sequence[float]  # per incident, receipt → its first Slack call; inf: none
    incidents: int
    wait_s: float
    caught_up: bool


def _processed_now(server: Server) -> int:
    for _ in range(20):
        state = poll(server)
        if state is not None:
            return state.processed
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: /metrics did not answer")


def _drain(server: Server, base: int, load: Load, o: Options) -> tuple[float, bool]:
    """Seconds from the load's first send until every delivery it got acknowledged is
    processed (or the scenario timeout), and whether it got there."""
    reached, seen = wait_for_count(server, base + load.acked, o.scenario_timeout_s, processed)
    return reached - load.started, seen >= base + load.acked


def large(server: Server, target: str, prefix: str, o: Options) -> list[LargeRow]:
    """``large_groups`` groups of ``large_alerts`` alerts sent once, then each re-sent
    ``large_resends`` times; alerts per second processed for each phase."""
    groups, alerts = o.large_groups, o.large_alerts
    rows = []
    for phase, count in (("first sends", groups), ("re-sends", groups * o.large_resends)):
        base = _processed_now(server)
        shape = ("--count", str(count), "--groups", str(groups), "--alerts", str(alerts))
        load = open_loop(server, prefix, BURST_RATE, count / BURST_RATE, o, shape, groups)
        seconds, done = _drain(server, base, load, o)
        per_s = load.acked * alerts / seconds if seconds > 0 else math.nan
        rows.append(LargeRow(target, phase, load, load.acked * alerts, per_s, done))
    return rows


def _settled(url: str, prefix: str) -> Recorded:
    """The counts once the escalation worker, which pages after the commit, holds still."""
    deadline = time.monotonic() + PAGE_SETTLE_S
    last = recorded(url, prefix)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = recorded(url, prefix)
        if now == last and now.pages + now.page_entries > 0:
            break
        last = now
    return last


def storm(server: Server, target: str, url: str, prefix: str, o: Options) -> StormRow:
    """``storm_groups`` single-alert groups for one service at ``storm_rate`` per second."""
    base = _processed_now(server)
    shape = (
        *("--count", str(o.storm_groups), "--service", f"{prefix}-svc"),
        *("--alertname", o.storm_alertname),
    )
    load = open_loop(server, prefix, o.storm_rate, o.storm_groups / o.storm_rate, o, shape)
    seconds, done = _drain(server, base, load, o)
    return StormRow(target, load, seconds, done, _settled(url, prefix))


def first_calls(calls: Sequence[dict[str, object]]) -> dict[int, float]:
    """Incident id → wall time of the first Slack call that names its channel."""
    first: dict[int, float] = {}
    for call in sorted(calls, key=lambda c: float(str(c["at"]))):
        name = call.get("name") or call.get("channel_name")
        found = CHANNEL.match(name) if isinstance(name, str) else None
        if found is not None:
            first.setdefault(int(found.group(1)), float(str(call["at"])))
    return first


def _slack_calls(slack: Server) -> list[dict[str, object]]:
    status, text = slack.get("/bench/calls")
    if status != 200:
        raise RuntimeError(f"fake Slack /bench/calls answered {status}")
    calls: list[dict[str, object]] = json.loads(text)
    return calls


def latency(
    server: Server, slack: Server, target: str, url: str, prefix: str, o: Options
) -> LatencyRow:
    """Single-alert groups of one service at ``latency_rate`` per second: receipt → recorded
    per delivery, and receipt → first Slack call per incident, waiting ``slack_wait_s`` at
    most after processing caught up."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    base = _processed_now(server)
    shape = ("--service", f"{prefix}-svc")
    load = open_loop(server, prefix, o.latency_rate, o.latency_duration_s, o, shape)
    _, done = _drain(server, base, load, o)
    found = receipts(url, prefix, since)
    caused: dict[int, float] = {}
    for r in found:
        if r.incident_id is not None:
            at = r.received_at.timestamp()
            caused[r.incident_id] = min(at, caused.get(r.incident_id, at))
    deadline = time.monotonic() + o.slack_wait_s
    first = first_calls(_slack_calls(slack))
    while time.monotonic() < deadline and not caused.keys() <= first.keys():
        time.sleep(SLACK_POLL_S)
        first = first_calls(_slack_calls(slack))
    recorded_s = [
        math.inf if r.recorded_at is None else (r.recorded_at - r.received_at).total_seconds()
        for r in found
    ]
    first_s = [first[i] - at if i in first else math.inf for i, at in caused.items()]
    return LatencyRow(target, load, recorded_s, first_s, len(caused), o.slack_wait_s, done)
