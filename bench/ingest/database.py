"""Reading what firebreak stored, straight from the database the bench created for it.

Only after a scenario's deliveries are processed: a read on SQLite takes the write lock
(firebreak's engine begins every transaction ``IMMEDIATE``), which would slow the target.
Episodes are found by fingerprint: every fingerprint the bench sends starts with the
scenario's prefix.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import ScalarSelect

from bot.domain.events import EventKind
from db.engine import make_engine
from db.tables import alert_episodes, deliveries, outbox, timeline

T = TypeVar("T")
CREATE = "conversations.create"
PAGERDUTY = "pagerduty"
PAGE_KINDS = (EventKind.ESCALATION_FIRED.value, EventKind.PAGE_REQUESTED.value)


def _read(url: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _incidents_of(prefix: str) -> ScalarSelect[int]:
    return (
        select(alert_episodes.c.incident_id)
        .where(alert_episodes.c.fingerprint.like(f"{prefix}-%"))
        .distinct()
        .scalar_subquery()
    )


@dataclass(frozen=True)
class Recorded:
    """What a scenario's deliveries became."""

    episodes: int
    incidents: int
    channels: int  # outbox rows calling conversations.create
    pages: int  # outbox rows for PagerDuty
    page_entries: int  # escalation.fired and page.requested timeline entries


def recorded(url: str, prefix: str) -> Recorded:
    """Counts for the episodes whose fingerprint starts with ``prefix``, and their incidents."""

    async def work(conn: AsyncConnection) -> Recorded:
        ids = _incidents_of(prefix)
        mine = alert_episodes.c.fingerprint.like(f"{prefix}-%")
        episodes = await conn.scalar(select(func.count()).where(mine))
        incidents = await conn.scalar(
            select(func.count(alert_episodes.c.incident_id.distinct())).where(mine)
        )
        channels = await conn.scalar(
            select(func.count()).where(outbox.c.incident_id.in_(ids), outbox.c.method == CREATE)
        )
        pages = await conn.scalar(
            select(func.count()).where(outbox.c.incident_id.in_(ids), outbox.c.target == PAGERDUTY)
        )
        entries = await conn.scalar(
            select(func.count()).where(
                timeline.c.incident_id.in_(ids), timeline.c.kind.in_(PAGE_KINDS)
            )
        )
        return Recorded(episodes or 0, incidents or 0, channels or 0, pages or 0, entries or 0)

    return _read(url, work)


@dataclass(frozen=True)
class Receipt:
    """One single-alert delivery: when firebreak received it, and when its alert was recorded
    (its ``alert.firing`` entry; ``None`` if there is none) in which incident."""

    fingerprint: str
    received_at: datetime
    recorded_at: datetime | None
    incident_id: int | None


def receipts(url: str, prefix: str, since: datetime) -> list[Receipt]:
    """The deliveries received from ``since`` whose alert's fingerprint starts with ``prefix``."""

    async def work(conn: AsyncConnection) -> list[Receipt]:
        received: dict[str, datetime] = {}
        rows = await conn.execute(
            select(deliveries.c.received_at, deliveries.c.body).where(
                deliveries.c.source == "alertmanager", deliveries.c.received_at >= since
            )
        )
        for at, body in rows:
            for alert in json.loads(bytes(body)).get("alerts", []):
                fingerprint = alert.get("fingerprint", "")
                if fingerprint.startswith(f"{prefix}-"):
                    received.setdefault(fingerprint, at)
        entries = await conn.execute(
            select(timeline.c.incident_id, timeline.c.at, timeline.c.body).where(
                timeline.c.incident_id.in_(_incidents_of(prefix)),
                timeline.c.kind == EventKind.ALERT_FIRING.value,
            )
        )
        firing: dict[str, tuple[datetime, int]] = {}
        for incident_id, at, body in entries:
            firing.setdefault(str(body.get("fingerprint")), (at, incident_id))
        return [
            Receipt(fp, at, *(firing.get(fp) or (None, None)))
            for fp, at in sorted(received.items(), key=lambda item: item[1])
        ]

    return _read(url, work)
