"""How the SQL repositories build their statements, on SQLite and PostgreSQL.

The hot paths run statements built once (``db/repositories/base.py`` says why): these tests
fail if one of them is built per call again, or if the partial-index predicate of an
ON CONFLICT target becomes a bound parameter, which PostgreSQL stops matching once asyncpg's
prepared statement switches to a generic plan (after five executions).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.sql import ClauseElement

from bot.domain.action import ActionVerb, NewAction
from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.domain.incident import AlertStatus, DeliveryOutcome, Severity, Source
from bot.domain.outbox import OutboundCall
from bot.domain.target import Target
from db.store import SqlStore
from handlers.slack.actor import slack_actor
from tests.support.store_builders import T0, alert, at, delivery, new_incident


@pytest.fixture
def sql(sql_store: SqlStore) -> SqlStore:
    return sql_store


async def _one_delivery(sql: SqlStore, n: int) -> None:
    """What the inbox processor and the Slack publisher do for one alert delivery."""
    async with sql.transaction() as uow:
        await uow.deliveries.enqueue([delivery(f"d{n}", source=Source.ALERTMANAGER)])
    async with sql.transaction() as uow:
        (pending,) = await uow.deliveries.take_pending(
            source=Source.ALERTMANAGER, now=at(n), limit=10
        )
        fired = alert(f"fp{n}")
        assert await uow.alerts.get(fired.fingerprint, fired.starts_at) is None
        incident, created = await uow.incidents.open_for_group(new_incident(group_key=f"g{n}"))
        assert created
        await uow.timeline.append(
            incident.id, at=at(n), actor=Actor.parse("t"), event=Note(text=str(n))
        )
        episode = await uow.alerts.add(incident.id, fired, Severity.P1)
        assert episode is not None
        await uow.alerts.for_incident(incident.id)
        await uow.incidents.save(dataclasses.replace(incident, updated_at=at(n + 1)))
        assert await uow.incidents.latest_for_group(f"g{n}") is not None
        assert await uow.incidents.get(incident.id, for_update=True) is not None
        assert await uow.incidents.get(incident.id) is not None
        assert await uow.alerts.resolve(episode.id, at(n + 2))
        await uow.timeline.for_incident(incident.id)
        await uow.chat_refs.refs(incident.id)
        call = OutboundCall(f"incident:{incident.id}", "chat.postMessage", {"text": "hi"})
        await uow.outbox.add(call, at=at(n))
        assert await uow.deliveries.finish(pending.id, DeliveryOutcome.PROCESSED)


async def test_a_delivery_reuses_the_statements_of_the_one_before(sql: SqlStore) -> None:
    rounds: list[list[ClauseElement]] = []

    def record(_conn: Any, clause: Any, *_args: Any) -> None:
        if isinstance(clause, ClauseElement):
            rounds[-1].append(clause)

    event.listen(sql.engine.sync_engine, "before_execute", record)
    try:
        for n in (1, 2):
            rounds.append([])
            await _one_delivery(sql, n)
    finally:
        event.remove(sql.engine.sync_engine, "before_execute", record)
    first, second = rounds
    # Fewer statements than calls: the unit of work answers what it created or locked itself
    # (db/unit_state.py), and sends held-back writes many rows at a time.
    assert len(second) == len(first) > 10
    # The first round's statements are still referenced, so no id can have been recycled.
    reused = {id(statement) for statement in first}
    rebuilt = [str(statement) for statement in second if id(statement) not in reused]
    assert rebuilt == []


async def test_conflicts_on_partial_unique_indexes_survive_the_generic_plan(
    sql: SqlStore,
) -> None:
    # One transaction: one connection, so one prepared statement executed again and again.
    target = Target("production", "lnn-service")
    async with sql.transaction() as uow:
        first, _ = await uow.incidents.open_for_group(new_incident())
        requested = NewAction(
            incident_id=first.id,
            verb=ActionVerb.SCALE,
            target=target,
            requested_by=slack_actor("U1"),
            requested_at=T0,
            expires_at=at(600),
            replicas=3,
        )
        action, _ = await uow.actions.open_or_existing(requested)
        for _ in range(8):
            again, created = await uow.incidents.open_for_group(new_incident())
            assert (again.id, created) == (first.id, False)
            same, opened = await uow.actions.open_or_existing(requested)
            assert (same.id, opened) == (action.id, False)


async def test_values_that_change_are_typed_by_their_columns(sql: SqlStore) -> None:
    # T0 carries a +05:30 offset: found again only if the comparison goes through UTCDateTime.
    async with sql.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        episode = await uow.alerts.add(incident.id, alert(), Severity.P1)
        assert episode is not None
        assert await uow.alerts.get(alert().fingerprint, T0) == episode
        assert await uow.alerts.resolve(episode.id, at(60))
        (resolved,) = await uow.alerts.for_incident(incident.id)
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.ends_at == at(60)
    naive = T0.replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        async with sql.transaction() as uow:
            await uow.alerts.get(alert().fingerprint, naive)
