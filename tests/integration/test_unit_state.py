"""What one SQL transaction holds back and knows (``db/unit_state.py``), on SQLite and
PostgreSQL: a held write is seen by every later read of the same transaction, rows keep the
order they were written in, what the transaction created is answered without a query and
stays true after its own writes, and a held write that clashes with another writer's commit
fails the transaction (so it is retried) instead of vanishing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from bot.domain.actor import Actor
from bot.domain.escalation import NewTimer, TimerKind, TimerStatus
from bot.domain.events import Note
from bot.domain.incident import AlertStatus, DeliveryOutcome, Severity, Source
from bot.domain.outbox import OutboundCall
from bot.errors import Conflict
from db.store import SqlStore
from tests.support.sql_store import migrated_store
from tests.support.store_builders import T0, alert, at, delivery, new_incident

ACTOR = Actor.parse("system:test")


@pytest.fixture
def sql(sql_store: SqlStore) -> SqlStore:
    return sql_store


def _statements() -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    return seen, record


async def test_held_entries_and_episodes_are_read_back_in_the_same_transaction(
    sql: SqlStore,
) -> None:
    async with sql.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        first = await uow.timeline.append(incident.id, at=at(1), actor=ACTOR, event=Note(text="a"))
        second = await uow.timeline.append(incident.id, at=at(2), actor=ACTOR, event=Note(text="b"))
        await uow.alerts.add_later(incident.id, alert("fp1"), Severity.P1)
        entries = await uow.timeline.for_incident(incident.id)
        episodes = await uow.alerts.for_incident(incident.id)
        fetched = await uow.alerts.get("fp1", T0)
    assert [e.seq for e in entries] == [1, 2]
    assert second.prev_hash == first.hash
    assert [e.fingerprint for e in episodes] == ["fp1"]
    assert fetched is not None
    assert fetched.id == episodes[0].id
    # And they were committed.
    async with sql.transaction() as uow:
        assert [e.hash for e in await uow.timeline.for_incident(incident.id)] == [
            first.hash,
            second.hash,
        ]


async def test_an_incident_created_here_reads_its_timers_and_episodes_without_a_query(
    sql: SqlStore,
) -> None:
    seen, record = _statements()
    async with sql.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        timers = [
            NewTimer(incident.id, 1, Severity.P1, TimerKind.LEVEL, level, at(60 * level))
            for level in (0, 1)
        ]
        await uow.escalations.schedule_later(timers, at=at(0))
        event.listen(sql.engine.sync_engine, "before_cursor_execute", record)
        try:
            assert await uow.escalations.latest_run(incident.id) == 1
            listed = await uow.escalations.for_incident(incident.id)
            again = await uow.escalations.for_incident(incident.id)
            assert await uow.incidents.get(incident.id) == incident
            assert await uow.alerts.for_incident(incident.id) == []
            cancelled = await uow.escalations.cancel_pending(incident.id, reason="test")
            after = await uow.escalations.for_incident(incident.id)
            assert await uow.escalations.cancel_pending(incident.id, reason="again") == 0
        finally:
            event.remove(sql.engine.sync_engine, "before_cursor_execute", record)
    # One multi-row INSERT for the timers, one UPDATE to cancel them; nothing else.
    assert seen == ["INSERT", "UPDATE"]
    assert [t.level for t in listed] == [0, 1]
    assert listed == again
    assert all(t.id > 0 for t in listed)
    assert cancelled == 2
    assert {t.status for t in after} == {TimerStatus.CANCELLED}


async def test_outbox_rows_keep_their_order_when_held_and_immediate_writes_mix(
    sql: SqlStore,
) -> None:
    key = "incident:1"
    async with sql.transaction() as uow:
        await uow.outbox.add_later(OutboundCall(key, "chat.postMessage", {"n": 1}), at=at(0))
        await uow.outbox.add(OutboundCall(key, "chat.postMessage", {"n": 2}), at=at(0))
        await uow.outbox.add_later(OutboundCall(key, "chat.postMessage", {"n": 3}), at=at(0))
        queued = await uow.outbox.list(ordering_key=key)
    assert [m.call.args["n"] for m in queued] == [1, 2, 3]


async def test_a_resolution_and_a_save_stay_true_in_what_the_transaction_knows(
    sql: SqlStore,
) -> None:
    async with sql.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        await uow.alerts.add_later(incident.id, alert("fp1"), Severity.P1)
        episode = await uow.alerts.get("fp1", T0)
        assert episode is not None
        assert await uow.alerts.resolve(episode.id, at(5))
        assert not await uow.alerts.resolve(episode.id, at(6))
        (listed,) = await uow.alerts.for_incident(incident.id)
        resolved = await uow.alerts.get("fp1", T0)
        renamed = incident.__class__(**{**_fields(incident), "title": "renamed"})
        await uow.incidents.save(renamed)
        latest = await uow.incidents.latest_for_group("g")
    assert listed.status is AlertStatus.RESOLVED
    assert listed.ends_at == at(5)
    assert resolved is not None
    assert resolved.status is AlertStatus.RESOLVED
    assert latest is not None
    assert latest.title == "renamed"


def _fields(incident: Any) -> dict[str, Any]:
    return {name: getattr(incident, name) for name in incident.__dataclass_fields__}


async def test_the_same_alert_held_twice_is_a_programming_error(sql: SqlStore) -> None:
    async with sql.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        await uow.alerts.add_later(incident.id, alert("fp1"), Severity.P1)
        with pytest.raises(ValueError, match="already stored"):
            await uow.alerts.add_later(incident.id, alert("fp1"), Severity.P1)


async def test_settlements_are_held_until_commit_and_then_stored(sql: SqlStore) -> None:
    async with sql.transaction() as uow:
        await uow.deliveries.enqueue([delivery("d1", source=Source.ALERTMANAGER)])
    async with sql.transaction() as uow:
        (pending,) = await uow.deliveries.take_pending(
            source=Source.ALERTMANAGER, now=at(1), limit=10
        )
        await uow.deliveries.finish_later(pending.id, DeliveryOutcome.PROCESSED)
        # A read of the inbox sees the settlement already.
        assert await uow.deliveries.count_pending() == 0
    async with sql.transaction() as uow:
        assert await uow.deliveries.count_pending() == 0


@pytest.mark.postgres
async def test_an_episode_another_writer_stored_meanwhile_fails_the_transaction(
    postgres_url: str,
) -> None:
    async with migrated_store(postgres_url) as one, migrated_store(postgres_url) as two:
        async with one.transaction() as uow:
            incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        looked = asyncio.Event()
        stored = asyncio.Event()

        async def slow_writer() -> None:
            async with one.transaction() as uow:
                await uow.alerts.prefetch([("fp1", T0)])
                assert await uow.alerts.get("fp1", T0) is None
                looked.set()
                await stored.wait()
                await uow.alerts.add_later(incident.id, alert("fp1"), Severity.P1)

        async def fast_writer() -> None:
            await looked.wait()
            async with two.transaction() as uow:
                assert await uow.alerts.add(incident.id, alert("fp1"), Severity.P1) is not None
            stored.set()

        results = await asyncio.gather(slow_writer(), fast_writer(), return_exceptions=True)
        assert isinstance(results[0], Conflict), results
        async with two.transaction() as uow:
            assert len(await uow.alerts.for_incident(incident.id)) == 1


async def test_calls_of_a_key_include_held_rows_without_sending_them(sql: SqlStore) -> None:
    seen, record = _statements()
    async with sql.transaction() as uow:
        await uow.outbox.add(OutboundCall("k", "conversations.create", {}), at=at(0))
        saves = {"card_ts": "ts"}
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        card = OutboundCall(
            "k", "chat.postMessage", {"text": "card"}, incident_id=incident.id, saves=saves
        )
        await uow.outbox.add_later(card, at=at(0))
        await uow.outbox.add_later(OutboundCall("other", "chat.postMessage", {}), at=at(0))
        event.listen(sql.engine.sync_engine, "before_cursor_execute", record)
        try:
            calls = await uow.outbox.calls_of("k")
        finally:
            event.remove(sql.engine.sync_engine, "before_cursor_execute", record)
    assert calls == [("conversations.create", {}), ("chat.postMessage", saves)]
    assert seen == ["SELECT"]
