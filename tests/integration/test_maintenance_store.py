"""Ad-hoc maintenance windows on every store (memory, SQLite, PostgreSQL): the start and end
use cases and the repository behind them (``bot/services/maintenance/``,
``db/repositories/maintenance.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from bot.domain.actor import Actor
from bot.domain.events import EventKind
from bot.domain.incident import IncidentStatus, Severity
from bot.domain.maintenance import NewMark, NewWindow
from bot.errors import BadRequest
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.incidents.updates import resolve
from bot.services.maintenance.end import end_maintenance
from bot.services.maintenance.start import start_maintenance
from db.store import SqlStore
from tests.support.escalation import entries_of
from tests.support.store_builders import new_incident

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ALICE = Actor.parse("slack:U0ALICE001")
BOB = Actor.parse("slack:U0BOB00001")


async def _incident(store: Store, service: str, group: str) -> int:
    async with store.transaction() as uow:
        incident = await uow.incidents.create(
            new_incident(service=service, group_key=group, created_at=NOW - timedelta(hours=1))
        )
    return incident.id


async def test_start_opens_a_window_and_marks_the_open_incidents_of_its_service(
    store: Store, policy: Policy
) -> None:
    lnn = await _incident(store, "lnn-service", "g1")
    other = await _incident(store, "checkout", "g2")
    gone = await _incident(store, "lnn-service", "g3")
    await resolve(store, gone, actor=BOB, at=NOW)

    started = await start_maintenance(
        store,
        service="lnn-service",
        duration=timedelta(minutes=30),
        actor=ALICE,
        at=NOW,
        reason="  node   upgrade ",
    )

    window = started.window
    assert (window.service, window.starts_at, window.ends_at) == (
        "lnn-service",
        NOW,
        NOW + timedelta(minutes=30),
    )
    assert (window.opened_by, window.reason) == (ALICE, "node upgrade")
    assert started.marked == (lnn,)
    [mark] = await entries_of(store, lnn, EventKind.MAINTENANCE_STARTED)
    assert mark.actor == ALICE
    assert mark.body["service"] == "lnn-service"
    assert mark.body["ends_at"] == (NOW + timedelta(minutes=30)).isoformat()
    assert (mark.body["severity"], mark.body["ad_hoc"]) == ("P2", window.id)
    assert await entries_of(store, other, EventKind.MAINTENANCE_STARTED) == []
    assert await entries_of(store, gone, EventKind.MAINTENANCE_STARTED) == []
    async with store.transaction() as uow:
        assert [w.id for w in await uow.maintenance.current(NOW)] == [window.id]
        assert await uow.maintenance.current(window.ends_at) == []


async def test_a_window_for_every_service_marks_every_open_incident(store: Store) -> None:
    first = await _incident(store, "lnn-service", "g1")
    second = await _incident(store, "checkout", "g2")
    started = await start_maintenance(
        store, service=None, duration=timedelta(hours=1), actor=ALICE, at=NOW
    )
    assert started.window.service is None
    assert started.marked == (first, second)
    [mark] = await entries_of(store, second, EventKind.MAINTENANCE_STARTED)
    assert mark.body.get("service", "") == ""


@pytest.mark.parametrize("length", [timedelta(seconds=30), timedelta(hours=24, minutes=1)])
async def test_a_duration_out_of_bounds_is_refused(store: Store, length: timedelta) -> None:
    with pytest.raises(BadRequest, match="1 minute to 24 hours"):
        await start_maintenance(store, service="lnn", duration=length, actor=ALICE, at=NOW)
    async with store.transaction() as uow:
        assert await uow.maintenance.current(NOW) == []


async def test_a_second_window_for_the_same_service_is_refused_another_service_is_not(
    store: Store,
) -> None:
    hour = timedelta(hours=1)
    await start_maintenance(store, service="lnn", duration=hour, actor=ALICE, at=NOW)
    with pytest.raises(BadRequest, match="already open for lnn until 2026-12-07 11:00 UTC"):
        await start_maintenance(store, service="lnn", duration=hour, actor=BOB, at=NOW)
    await start_maintenance(store, service="checkout", duration=hour, actor=BOB, at=NOW)
    await start_maintenance(store, service=None, duration=hour, actor=BOB, at=NOW)
    async with store.transaction() as uow:
        running = await uow.maintenance.current(NOW + timedelta(minutes=5))
    assert [w.service for w in running] == ["lnn", "checkout", None]


async def test_end_closes_the_window_and_records_its_end_on_what_it_touched(
    store: Store, policy: Policy
) -> None:
    lnn = await _incident(store, "lnn", "g1")
    started = await start_maintenance(
        store, service="lnn", duration=timedelta(hours=2), actor=ALICE, at=NOW
    )
    later = NOW + timedelta(minutes=20)

    ended = await end_maintenance(store, policy, service="lnn", actor=BOB, at=later)

    assert ended.window.id == started.window.id
    assert (ended.window.ended_at, ended.window.ended_by) == (later, BOB)
    assert ended.touched == (lnn,)
    assert ended.raised == ()  # it held nothing: the incident was open before
    [entry] = await entries_of(store, lnn, EventKind.MAINTENANCE_ENDED)
    assert (entry.actor, entry.body["how"], entry.body["ended_at"]) == (
        BOB,
        "ended",
        later.isoformat(),
    )
    async with store.transaction() as uow:
        assert await uow.maintenance.current(later) == []
        assert await uow.maintenance.marks_of(started.window.id) == []
    # Gone: ending again is refused, and says what is open instead.
    await start_maintenance(store, service=None, duration=timedelta(hours=1), actor=ALICE, at=later)
    with pytest.raises(BadRequest, match=r"no ad-hoc .* open for lnn .*every service"):
        await end_maintenance(store, policy, service="lnn", actor=BOB, at=later)


async def test_marks_are_kept_once_and_released_once(store: Store) -> None:
    incident_id = await _incident(store, "lnn", "g1")
    end = NOW + timedelta(hours=1)
    async with store.transaction() as uow:
        window = await uow.maintenance.open(NewWindow("lnn", NOW, end, ALICE))
        mark = NewMark(incident_id, window.name, end, window.id, Severity.P1, Severity.P2)
        await uow.maintenance.mark(mark)
        await uow.maintenance.mark(mark)  # the same occurrence again: nothing new
        await uow.maintenance.mark(NewMark(incident_id, "weekly", NOW + timedelta(minutes=5)))
    async with store.transaction() as uow:
        [held] = await uow.maintenance.marks_of(window.id)
        assert (held.classified, held.severity, held.held) == (Severity.P1, Severity.P2, True)
        assert await uow.maintenance.due_marks(NOW, limit=10) == []
        [weekly] = await uow.maintenance.due_marks(NOW + timedelta(minutes=5), limit=10)
        assert (weekly.window, weekly.held) == ("weekly", False)
        assert await uow.maintenance.release(weekly.id, at=NOW)
        assert not await uow.maintenance.release(weekly.id, at=NOW)
    async with store.transaction() as uow:
        assert await uow.maintenance.due_marks(NOW + timedelta(minutes=5), limit=10) == []
        # Ended early: its marks are due before their end (one intake wrote while it ended).
        assert await uow.maintenance.end(window.id, at=NOW, by=BOB) is not None
        assert await uow.maintenance.end(window.id, at=NOW, by=BOB) is None
        assert [m.id for m in await uow.maintenance.due_marks(NOW, limit=10)] == [held.id]


async def test_open_incidents_of_a_service(store: Store) -> None:
    a = await _incident(store, "lnn", "g1")
    b = await _incident(store, "checkout", "g2")
    async with store.transaction() as uow:
        incident = await uow.incidents.get(b)
        assert incident is not None
        await uow.incidents.save(incident.moved_to(IncidentStatus.ACKNOWLEDGED, by=BOB, at=NOW))
    async with store.transaction() as uow:
        assert await uow.maintenance.open_incidents("lnn") == [a]
        assert await uow.maintenance.open_incidents(None) == [a, b]
        assert await uow.maintenance.open_incidents("nothing") == []


async def test_running_windows_are_read_once_per_transaction(sql_store: SqlStore) -> None:
    async with sql_store.transaction() as uow:
        await uow.maintenance.open(NewWindow("lnn", NOW, NOW + timedelta(hours=1), ALICE))
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM maintenance_windows" in statement:
            reads.append(statement)

    event.listen(sql_store.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with sql_store.transaction() as uow:
            for minutes in range(5):
                running = await uow.maintenance.current(NOW + timedelta(minutes=minutes))
                assert [w.service for w in running] == ["lnn"]
            # The window is over at its end, without another read.
            assert await uow.maintenance.current(NOW + timedelta(hours=1)) == []
    finally:
        event.remove(sql_store.engine.sync_engine, "before_cursor_execute", count)
    assert len(reads) == 1
