"""The commander, the acknowledger and the resolver are kept on the incident by the use
cases that record them, in the same transaction as their timeline entry, and the Slack card
reads the commander from the incident rather than from the timeline."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import EventKind, StatusChanged
from bot.domain.outbox import incident_key
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.services.incidents.updates import acknowledge, assign_commander, resolve
from handlers.api import incident_json
from tests.fakes.memory.store import MemoryStore
from tests.support.store_builders import new_incident

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _open(store: MemoryStore) -> int:
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident(created_at=T0))
    return incident.id


async def test_the_use_cases_keep_who_on_the_incident() -> None:
    store = MemoryStore()
    incident_id = await _open(store)
    await assign_commander(store, incident_id, "U0BOSS", actor=Actor.parse("slack:U0A"), at=T0)
    await acknowledge(store, incident_id, actor=Actor.parse("slack:U0ACK"), at=T0)
    await resolve(store, incident_id, actor=Actor.parse("slack:U0RES"), at=T0)
    async with store.transaction() as uow:
        incident = await uow.incidents.get(incident_id)
        kinds = [entry.kind for entry in await uow.timeline.for_incident(incident_id)]
    assert incident is not None
    assert (incident.commander, incident.acknowledged_by, incident.resolved_by) == (
        "U0BOSS",
        "slack:U0ACK",
        "slack:U0RES",
    )
    assert kinds == ["commander.assigned", "incident.acknowledged", "incident.resolved"]
    shown = incident_json(incident)
    assert (shown["commander"], shown["acknowledged_by"], shown["resolved_by"]) == (
        "U0BOSS",
        "slack:U0ACK",
        "slack:U0RES",
    )


async def test_the_card_shows_the_commander_the_incident_keeps() -> None:
    store = MemoryStore()
    incident_id = await _open(store)
    async with store.transaction() as uow:
        # The incident names its commander; no timeline entry does.
        incident = await uow.incidents.get(incident_id, for_update=True)
        assert incident is not None
        await uow.incidents.save(replace(incident, commander="U0BOSS"))
    publisher = SlackPublisher(
        policy=load_policy(DEFAULT_POLICY), clock=FixedClock(T0), triage_channel="C0TRIAGE"
    )
    async with store.transaction() as uow:
        entry = await uow.timeline.append(
            incident_id,
            at=T0,
            actor=Actor.parse("slack:U0ACK"),
            event=StatusChanged(kind=EventKind.INCIDENT_ACKNOWLEDGED),
        )
        await publisher.publish(uow, incident_id, [entry])
        queued = await uow.outbox.list(ordering_key=incident_key(incident_id))
    (update,) = [m.call for m in queued if m.call.method == "chat.update"]
    assert "<@U0BOSS>" in json.dumps(update.args)
