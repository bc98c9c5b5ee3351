"""Actors at the storage boundary: rows and timeline entries keep the ``source:id`` text older
versions wrote, read back as the same ``Actor``, and the hash chain spans entries written
before and after actors were typed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta

from sqlalchemy import insert, select, update

from bot.domain.action import ActionRequest, ActionVerb, Approval, NewAction
from bot.domain.actor import BOT, Actor
from bot.domain.events import Note
from bot.domain.timeline import GENESIS, canonical_time, verify_chain
from bot.ports import Store, UnitOfWork
from db.store import SqlStore
from db.tables import actions, timeline
from handlers.slack.actor import slack_actor
from tests.support.actions import ALICE, BOB, LNN
from tests.support.store_builders import T0, new_incident


def _old_hash(*, prev_hash: str, incident_id: int, seq: int, actor: str, body: object) -> str:
    """The hash as firebreak wrote it while actors were plain strings: spelled out here so
    that a change to how the code hashes an ``Actor`` cannot hide from this test."""
    payload = json.dumps(
        [prev_hash, incident_id, seq, canonical_time(T0), actor, "note", body],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def test_an_old_entry_reads_back_as_an_actor_and_the_chain_spans_old_and_new(
    sql_store: SqlStore,
) -> None:
    async with sql_store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
    body = {"text": "written by the old code"}
    old_hash = _old_hash(
        prev_hash=GENESIS, incident_id=incident.id, seq=1, actor="slack:U0OLD", body=body
    )
    async with sql_store.engine.begin() as conn:
        await conn.execute(
            insert(timeline).values(
                incident_id=incident.id,
                seq=1,
                at=T0,
                actor="slack:U0OLD",
                kind="note",
                body=body,
                prev_hash=GENESIS,
                hash=old_hash,
            )
        )
    async with sql_store.transaction() as uow:
        await uow.timeline.append(
            incident.id,
            at=T0 + timedelta(seconds=1),
            actor=slack_actor("U0NEW", "New Person"),
            event=Note(text="written by the new code"),
        )
        await uow.timeline.append(
            incident.id, at=T0 + timedelta(seconds=2), actor=BOT, event=Note(text="bot")
        )
    async with sql_store.transaction() as uow:
        entries = await uow.timeline.for_incident(incident.id)
    async with sql_store.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(timeline.c.actor)
                .where(timeline.c.incident_id == incident.id)
                .order_by(timeline.c.seq)
            )
        ).scalars()
        texts = list(stored)

    verify_chain(entries)
    assert entries[0].hash == old_hash
    # The display name is never stored: the actor reads back without it.
    assert [e.actor for e in entries] == [slack_actor("U0OLD"), slack_actor("U0NEW"), BOT]
    assert texts == ["slack:U0OLD", "slack:U0NEW", "bot:firebreak"]


async def _restart_requested_by_alice(uow: UnitOfWork) -> ActionRequest:
    """A restart request on a new incident, its requester carrying a display name."""
    incident, _ = await uow.incidents.open_for_group(new_incident())
    action, _ = await uow.actions.open_or_existing(
        NewAction(
            incident_id=incident.id,
            verb=ActionVerb.RESTART,
            target=LNN,
            requested_by=slack_actor(ALICE, "Alice"),
            requested_at=T0,
            expires_at=T0 + timedelta(minutes=10),
        )
    )
    return action


async def test_an_action_row_keeps_the_old_text_and_reads_back_as_actors(
    sql_store: SqlStore,
) -> None:
    async with sql_store.transaction() as uow:
        action = await _restart_requested_by_alice(uow)
    # Approvals as the old code wrote them, actors as text, one of them not from Slack.
    approvals = [
        {"actor": f"slack:{BOB}", "at": T0.isoformat()},
        {"actor": "system:oncall-sync", "at": T0.isoformat()},
    ]
    async with sql_store.engine.begin() as conn:
        await conn.execute(
            update(actions).where(actions.c.id == action.id).values(approvals=approvals)
        )
        row = (
            await conn.execute(select(actions.c.requested_by).where(actions.c.id == action.id))
        ).one()
    async with sql_store.transaction() as uow:
        again = await uow.actions.get(action.id)

    assert row.requested_by == f"slack:{ALICE}"
    assert again is not None
    assert again.requested_by == slack_actor(ALICE)
    assert again.approved_by == (slack_actor(BOB), Actor("system", "oncall-sync"))


async def test_every_store_keeps_actors_without_their_display_names(store: Store) -> None:
    async with store.transaction() as uow:
        action = await _restart_requested_by_alice(uow)
        approved = dataclasses.replace(
            action, approvals=(Approval(slack_actor(BOB, "Bob"), T0),), updated_at=T0
        )
        assert await uow.actions.update(action, approved) is not None
        await uow.timeline.append(
            action.incident_id, at=T0, actor=slack_actor(BOB, "Bob"), event=Note(text="n")
        )
    async with store.transaction() as uow:
        again = await uow.actions.get(action.id)
        (entry,) = await uow.timeline.for_incident(action.incident_id)
    assert again is not None
    shown = [again.requested_by, *again.approved_by, entry.actor]
    assert [(a.source, a.id, a.display) for a in shown] == [
        ("slack", ALICE, None),
        ("slack", BOB, None),
        ("slack", BOB, None),
    ]
