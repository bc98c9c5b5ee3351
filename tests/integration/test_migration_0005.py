"""Migration 0005 on a database the old code wrote: the incident gains its commander,
acknowledger and resolver (filled in from its timeline), and the timeline entries, written
as plain dicts before the typed vocabulary, still load, verify and render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Connection

from bot.domain.actor import Actor
from bot.domain.incident import JSON, TimelineEntry
from bot.domain.timeline import GENESIS, next_entry, verify_chain
from bot.services.entry_text import describe
from db.engine import make_engine
from db.migrate import alembic_config, upgrade_async
from db.store import SqlStore
from db.tables import incidents, timeline
from tests.support.store_builders import T0

# Entries exactly as the code before the typed vocabulary wrote them (kinds and keys).
OLD_ENTRIES: list[tuple[str, str, JSON, str]] = [
    (
        "system:alertmanager",
        "incident.opened",
        {
            "title": "LNN down",
            "severity": "P1",
            "scenario": "down",
            "rule": "r1",
            "response_minutes": 15,
            "group_key": "g",
            "receiver": "firebreak",
        },
        "Opened as P1: LNN down (rule r1)",
    ),
    (
        "system:alertmanager",
        "alert.firing",
        {
            "fingerprint": "fp",
            "alertname": "LNNDown",
            "starts_at": T0.isoformat(),
            "labels": {"alertname": "LNNDown"},
            "severity": "P1",
            "rule": "r1",
        },
        "Alert LNNDown firing (P1)",
    ),
    ("slack:U0ACK", "incident.acknowledged", {}, "Acknowledged"),
    ("slack:U0ACK", "commander.assigned", {"user": "U0BOSS"}, "Commander: U0BOSS"),
    ("slack:U0ACK", "note", {"text": "looking"}, "Note: looking"),
    (
        "slack:U0REQ",
        "action.requested",
        {
            "action_id": 4,
            "action": "scale lnn/deploy/x to 6",
            "verb": "scale",
            "target": "lnn/deploy/x",
            "state": "requested",
            "approvals_required": 1,
            "expires_at": T0.isoformat(),
        },
        "Action #4 requested: scale lnn/deploy/x",
    ),
    (
        "bot:firebreak",
        "action.failed",
        {
            "action_id": 4,
            "action": "scale lnn/deploy/x to 6",
            "verb": "scale",
            "target": "lnn/deploy/x",
            "state": "failed",
            "detail": "target changed",
            "snapshot": {"replicas": 3},
        },
        "Action #4 failed: scale lnn/deploy/x: target changed",
    ),
    (
        "system:pagerduty",
        "pagerduty.acknowledged",
        {"event_id": "e1", "occurred_at": T0.isoformat(), "agent": "P1", "status": "ack"},
        "PagerDuty: acknowledged",
    ),
    (
        "slack:U0RES",
        "incident.resolved",
        {"reason": "resolved by hand"},
        "Resolved: resolved by hand",
    ),
]


def _incident_row(status: str) -> dict[str, Any]:
    return {
        "title": "LNN down",
        "severity": "P1",
        "status": status,
        "source": "alertmanager",
        "service": "lnn",
        "scenario": "down",
        "response_minutes": 15,
        "group_key": None,
        "labels": {},
        "created_at": T0,
        "updated_at": T0,
    }


def _old_timeline(incident_id: int) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for n, (actor, kind, body, _) in enumerate(OLD_ENTRIES):
        entries.append(
            next_entry(
                prev_seq=entries[-1].seq if entries else 0,
                prev_hash=entries[-1].hash if entries else GENESIS,
                incident_id=incident_id,
                at=T0 + timedelta(seconds=n),
                actor=Actor.parse(actor),
                kind=kind,
                body=body,
            )
        )
    return entries


async def test_0005_fills_in_the_people_and_old_entries_still_verify_and_render(
    database_url: str,
) -> None:
    await upgrade_async(database_url, "0004")
    store = SqlStore.from_url(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(insert(incidents).values(id=1, **_incident_row("resolved")))
            await conn.execute(insert(incidents).values(id=2, **_incident_row("triggered")))
            for entry in [*_old_timeline(1), *_old_timeline(2)]:
                await conn.execute(
                    insert(timeline).values(
                        incident_id=entry.incident_id,
                        seq=entry.seq,
                        at=entry.at,
                        actor=str(entry.actor),
                        kind=entry.kind,
                        body=entry.body,
                        prev_hash=entry.prev_hash,
                        hash=entry.hash,
                    )
                )
    finally:
        await store.close()

    await upgrade_async(database_url)
    store = SqlStore.from_url(database_url)
    try:
        async with store.transaction() as uow:
            resolved = await uow.incidents.get(1)
            reopened = await uow.incidents.get(2)
            entries = await uow.timeline.for_incident(1)
    finally:
        await store.close()

    assert resolved is not None
    assert reopened is not None
    assert (resolved.commander, resolved.acknowledged_by, resolved.resolved_by) == (
        "U0BOSS",
        "slack:U0ACK",
        "slack:U0RES",
    )
    # Its timeline says resolved, but the incident is open again: nobody resolved it.
    assert (reopened.commander, reopened.resolved_by) == ("U0BOSS", None)
    verify_chain(entries)
    assert [describe(entry) for entry in entries] == [line for *_, line in OLD_ENTRIES]


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_0005_downgrades_to_0004_and_upgrades_again(database_url: str) -> None:
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0004")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("incidents")}
            )
    finally:
        await engine.dispose()
    assert not columns & {"commander", "acknowledged_by", "resolved_by"}
    await upgrade_async(database_url)
