"""Migration 0007 and the action repository's HPA fields on SQLite and PostgreSQL: an action
stored before it loads as a plain scale; an HPA scale round-trips its plan, the previous floor
set with the apply mark, and the action a restore puts back; downgrade and upgrade again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.domain.action import ActionState, ActionVerb, NewAction
from bot.domain.autoscaler import AutoscalerPlan
from bot.ports import Store
from db.engine import make_engine
from db.migrate import alembic_config, upgrade_async
from db.store import SqlStore
from db.tables import incidents
from handlers.slack.actor import slack_actor
from tests.support.actions import ALICE, LNN
from tests.support.store_builders import T0, new_incident

COLUMNS = {"autoscaler", "previous_min_replicas", "restores"}
HPA = AutoscalerPlan("lnn-service", 3, 10)

# The actions table as 0006 left it (the columns an older version wrote).
_ACTIONS_0006 = sa.table(
    "actions",
    sa.column("incident_id", sa.Integer()),
    sa.column("verb", sa.String()),
    sa.column("namespace", sa.String()),
    sa.column("deployment", sa.String()),
    sa.column("state", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("requested_by", sa.Text()),
    sa.column("requested_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("approvals_required", sa.Integer()),
    sa.column("approvals", sa.JSON()),
    sa.column("replicas", sa.Integer()),
    sa.column("detail", sa.Text()),
)


async def test_0007_keeps_older_actions_as_plain_scales(database_url: str) -> None:
    await upgrade_async(database_url, "0006")
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                incidents.insert().values(
                    id=1,
                    title="t",
                    severity="P1",
                    status="triggered",
                    source="alertmanager",
                    service="lnn",
                    scenario="down",
                    response_minutes=15,
                    group_key=None,
                    labels={},
                    created_at=T0,
                    updated_at=T0,
                )
            )
            await conn.execute(
                _ACTIONS_0006.insert().values(
                    incident_id=1,
                    verb="scale",
                    namespace=LNN.namespace,
                    deployment=LNN.name,
                    state="succeeded",
                    version=3,
                    requested_by="slack:U0ALICE",
                    requested_at=T0,
                    expires_at=T0,
                    updated_at=T0,
                    approvals_required=1,
                    approvals=[],
                    replicas=6,
                    detail="done",
                )
            )
    finally:
        await engine.dispose()
    await upgrade_async(database_url)
    store = SqlStore.from_url(database_url)
    try:
        async with store.transaction() as uow:
            [action] = await uow.actions.for_incident(1)
    finally:
        await store.close()
    assert (action.verb, action.replicas, action.state) == (
        ActionVerb.SCALE,
        6,
        ActionState.SUCCEEDED,
    )
    assert (action.autoscaler, action.previous_min_replicas, action.restores) == (None, None, None)
    assert action.describe() == f"scale {LNN} to 6"


async def test_an_hpa_scale_round_trips(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident(group_key="g"))
        new = NewAction(
            incident_id=incident.id,
            verb=ActionVerb.SCALE,
            target=LNN,
            requested_by=slack_actor(ALICE),
            requested_at=T0,
            expires_at=T0 + timedelta(minutes=10),
            replicas=6,
            autoscaler=HPA,
        )
        raised, created = await uow.actions.open_or_existing(new)
    assert created
    assert raised.autoscaler == HPA
    async with store.transaction() as uow:
        marked = await uow.actions.update(
            raised, dataclasses.replace(raised, previous_min_replicas=3, detail="applying")
        )
    assert marked is not None
    assert marked.previous_min_replicas == 3
    async with store.transaction() as uow:
        # A transition cannot rewrite the plan: it is the request's, as approved.
        again = await uow.actions.update(
            marked, dataclasses.replace(marked, autoscaler=None, state=ActionState.DENIED)
        )
        restore, _ = await uow.actions.open_or_existing(
            dataclasses.replace(new, replicas=3, restores=raised.id)
        )
        loaded = await uow.actions.get(raised.id)
    assert again is not None
    assert loaded is not None
    assert (loaded.autoscaler, loaded.previous_min_replicas) == (HPA, 3)
    assert (restore.restores, restore.replicas, restore.autoscaler) == (raised.id, 3, HPA)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_0007_downgrades_to_0006_and_upgrades_again(database_url: str) -> None:
    await upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0006")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("actions")}
            )
    finally:
        await engine.dispose()
    assert not columns & COLUMNS
    await upgrade_async(database_url)
