"""The inbox processor alone, in process: how fast acknowledged deliveries become incidents.

``bench.ingest`` measures the whole server, where intake, the escalation worker and the outbox
share the event loop with processing; this measures the processor by itself, as the app
builds it (its three publishers), on SQLite and PostgreSQL:

    FIREBREAK_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
      .venv/bin/python -m bench.processor [--deliveries 2000] [--backends sqlite,postgres]

Scenarios: *new incidents* (single-alert deliveries, each its own service, so each opens an
incident) and *re-sent groups* (10 groups of 1,000 alerts, sent once, then each re-sent 5
times). The baseline, measured in the same run, is the same processor taking one delivery per
transaction (``batch=1``): what batching buys. Columns: deliveries/s, alerts/s, p50/p99 of a
batch's transaction, CPU ms per delivery and the process's peak RSS. Bounded: a fixed number
of deliveries, each scenario drained once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import SystemClock
from bot.domain.incident import Delivery, Source
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.prometheus import PrometheusMetrics
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.ports import Publisher
from bot.progress import Progress
from bot.services.escalation.reactor import EscalationReactor
from bot.services.incidents.inbox import InboxProcessor
from bot.services.incidents.inbox_timings import ProcessorTimings
from bot.services.publishing import PublishingStore
from db.engine import make_engine
from db.migrate import upgrade_async
from db.store import SqlStore
from handlers.alertmanager_schema import parse_alertmanager

TRIAGE = "#triage"
STARTS = "2026-12-07T02:00:00Z"


@dataclass(frozen=True)
class Row:
    backend: str
    scenario: str
    batch: int
    deliveries: int
    alerts: int
    seconds: float
    cpu_seconds: float
    batch_ms: Sequence[float]

    def cells(self) -> list[str]:
        p50, p99 = np.percentile(self.batch_ms, [50, 99]) if self.batch_ms else (0.0, 0.0)
        return [
            self.backend,
            self.scenario,
            str(self.batch),
            f"{self.deliveries / self.seconds:,.0f}",
            f"{self.alerts / self.seconds:,.0f}",
            f"{p50:.1f}",
            f"{p99:.1f}",
            f"{1000 * self.cpu_seconds / self.deliveries:.2f}",
        ]


def _labels(service: str) -> dict[str, str]:
    return {"alertname": "LNNHighLatency", "severity": "critical", "service": service}


def _alert(service: str, instance: str) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": {**_labels(service), "instance": instance},
        "annotations": {},
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, f"{service}/{instance}").hex[:16],
    }


def _body(group: str, alerts: list[dict[str, object]]) -> bytes:
    # Every alert of a group is of its service and differs only by instance.
    common = _labels(group) if len(alerts) > 1 else {**_labels(group), "instance": "i0"}
    payload = {
        "version": "4",
        "groupKey": f"{{}}:{{g={group!r}}}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"g": group},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }
    return json.dumps(payload).encode()


async def _database(backend: str, admin_url: str | None) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='firebreak-bench-')}/bench.db"
    if admin_url is None:
        raise SystemExit("PostgreSQL needs FIREBREAK_TEST_POSTGRES_URL (or --backends sqlite)")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def _drain(
    url: str, bodies: list[bytes], batch: int, label: str
) -> tuple[float, float, list[float]]:
    """Enqueue ``bodies`` and drain them with a processor of ``batch``; wall s, CPU s, and
    each batch's transaction in ms. Progress goes to standard error as ``label``."""
    policy = load_policy(DEFAULT_POLICY)
    clock = SystemClock()
    sql = SqlStore(make_engine(url))
    publishers: list[Publisher] = [
        EscalationReactor(policy, clock, PrometheusMetrics()),
        SlackPublisher(policy=policy, clock=clock, triage_channel=TRIAGE),
        NotificationPublisher(policy, clock, public_url="http://127.0.0.1", triage_channel=TRIAGE),
    ]
    store = PublishingStore(sql, publishers)
    now = clock.now()
    async with sql.transaction() as uow:
        await uow.deliveries.enqueue(
            [
                Delivery(Source.ALERTMANAGER, f"d{uuid.uuid4().hex}", now, body, "firing")
                for body in bodies
            ]
        )
    processor = InboxProcessor(
        store=store,
        policy=policy,
        clock=clock,
        parse=parse_alertmanager,
        timings=ProcessorTimings(batch=batch),
    )
    samples: list[float] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with Progress(label, len(bodies)) as progress:
        while True:
            t0 = time.perf_counter()
            done = await processor.run_once(batch, wait_turn=True)
            if not done:
                break
            samples.append(1000 * (time.perf_counter() - t0))
            progress.advance(len(done))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await sql.close()
    return wall, cpu, samples


async def run(backend: str, deliveries: int, admin_url: str | None) -> list[Row]:
    rows = []
    new = [_body(f"s{i}", [_alert(f"s{i}", "i0")]) for i in range(deliveries)]
    groups = [_body(f"g{g}", [_alert(f"g{g}", f"i{a}") for a in range(1000)]) for g in range(10)]
    for batch in (1, ProcessorTimings().batch):
        url = await _database(backend, admin_url)
        await upgrade_async(url)
        wall, cpu, ms = await _drain(url, new, batch, f"{backend} new incidents, batch {batch}")
        rows.append(Row(backend, "new incidents", batch, len(new), len(new), wall, cpu, ms))
        # First sends: not measured.
        await _drain(url, groups, batch, f"{backend} first sends, batch {batch}")
        resent = groups * 5
        wall, cpu, ms = await _drain(url, resent, batch, f"{backend} re-sends, batch {batch}")
        rows.append(
            Row(
                backend,
                "re-sent 1,000-alert groups",
                batch,
                len(resent),
                1000 * len(resent),
                wall,
                cpu,
                ms,
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.processor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--deliveries", type=int, default=2000, help="new-incident deliveries")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite, postgres")
    args = parser.parse_args(argv)
    admin_url = os.environ.get("FIREBREAK_BENCH_POSTGRES_URL") or os.environ.get(
        "FIREBREAK_TEST_POSTGRES_URL"
    )
    rows: list[Row] = []
    for backend in args.backends.split(","):
        rows += asyncio.run(run(backend.strip(), args.deliveries, admin_url))
    head = [
        "backend",
        "scenario",
        "batch",
        "deliveries/s",
        "alerts/s",
        "batch p50 ms",
        "batch p99 ms",
        "CPU ms/delivery",
    ]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + " |")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbaseline: batch 1 (one delivery per transaction); peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
