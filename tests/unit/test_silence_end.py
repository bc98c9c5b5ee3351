"""A silence's end (``/incident unsilence``, or its end time passing): the incident's
silenced alerts that Alertmanager no longer holds resolved while silenced, and are resolved
now, through intake's resolution; on the memory store against an in-memory Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.incident import AlertStatus, IncidentStatus
from bot.integrations.slack.directory import SlackDirectory
from bot.policy.model import Policy
from bot.services.incidents.ingest_alertmanager import apply_alert_group
from bot.services.incidents.silence import Silencer, SilenceRequest, SilenceResult
from tests.fakes.memory.silences import MemorySilences
from tests.fakes.memory.store import MemoryStore
from tests.fakes.slack.directory import FakeDirectory
from tests.fakes.slack.testing import BOB
from tests.support.payloads.alertmanager import alert, group, webhook

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RESPONDER = Actor("slack", BOB)
LNN0 = alert("LNNHighLatency", service="lnn-service", instance="lnn-0")
LNN1 = alert("LNNHighLatency", service="lnn-service", instance="lnn-1")
# Both alerts of the group: the group's common labels leave `instance` out.
BOTH = (LNN0, LNN1)


async def _setup(policy: Policy) -> tuple[MemoryStore, MemorySilences, Silencer, FixedClock]:
    store, clock = MemoryStore(), FixedClock(T0)
    async with store.transaction() as uow:
        await apply_alert_group(uow, policy=policy, now=T0, group=group(webhook("g1", list(BOTH))))
    alertmanager = MemorySilences(clock)
    for a in BOTH:
        alertmanager.alerts_held[a["fingerprint"]] = a["labels"]
    silencer = Silencer(
        store=store,
        silences=alertmanager,
        directory=SlackDirectory(FakeDirectory()),
        approvers=(),
        clock=clock,
    )
    return store, alertmanager, silencer, clock


async def _silence(silencer: Silencer, duration: timedelta = timedelta(hours=2)) -> str:
    made = await silencer.silence(1, SilenceRequest(duration=duration), actor=RESPONDER)
    assert isinstance(made, SilenceResult)
    return made.silence_id


async def _entries(store: MemoryStore) -> list[tuple[str, str, dict[str, Any]]]:
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(1)
    # The escalation worker is not running here, but the filter keeps the list honest.
    return [
        (e.kind, str(e.actor), dict(e.body))
        for e in entries
        if not e.kind.startswith(("escalation.", "notification."))
    ]


async def test_unsilence_resolves_what_resolved_while_silenced_and_then_the_incident(
    policy: Policy,
) -> None:
    store, alertmanager, silencer, clock = await _setup(policy)
    await _silence(silencer)
    clock.advance(600)
    del alertmanager.alerts_held[LNN0["fingerprint"]]

    first = await silencer.unsilence(1, actor=RESPONDER)
    assert first.checked is not None
    assert (first.checked.firing, first.checked.resolved) == (1, ("LNNHighLatency",))
    assert not first.checked.incident_resolved
    async with store.transaction() as uow:
        episodes = {e.fingerprint: e for e in await uow.alerts.for_incident(1)}
        incident = await uow.incidents.get(1)
    assert episodes[LNN0["fingerprint"]].status is AlertStatus.RESOLVED
    assert episodes[LNN0["fingerprint"]].ends_at == T0 + timedelta(seconds=600)
    assert episodes[LNN1["fingerprint"]].status is AlertStatus.FIRING
    assert incident is not None
    assert incident.status is IncidentStatus.TRIGGERED

    # The second alert resolves under a second silence: its end resolves the incident.
    await _silence(silencer)
    del alertmanager.alerts_held[LNN1["fingerprint"]]
    second = await silencer.unsilence(1, actor=RESPONDER)
    assert second.checked is not None
    assert second.checked.incident_resolved
    tail = [(k, a) for k, a, _ in await _entries(store)][-5:]
    assert tail == [
        ("silence.created", f"slack:{BOB}"),
        ("silence.expired", f"slack:{BOB}"),
        ("alert.resolved", "bot:firebreak"),
        ("silence.checked", "bot:firebreak"),
        # Intake's own resolution: its actor and reason.
        ("incident.resolved", "system:alertmanager"),
    ]
    resolved = (await _entries(store))[-1][2]
    assert resolved["reason"] == "all alerts resolved"


async def test_alerts_still_firing_after_the_silence_stay_open(policy: Policy) -> None:
    store, _, silencer, _ = await _setup(policy)
    await _silence(silencer)
    done = await silencer.unsilence(1, actor=RESPONDER)
    assert done.checked is not None
    assert (done.checked.firing, done.checked.resolved) == (2, ())
    kind, _, body = (await _entries(store))[-1]
    assert (kind, body) == ("silence.checked", {"after": "unsilence", "firing": 2, "resolved": []})


async def test_a_silence_whose_end_passed_is_noticed_once_and_resolves_the_quiet_incident(
    policy: Policy,
) -> None:
    store, alertmanager, silencer, clock = await _setup(policy)
    silence_id = await _silence(silencer, timedelta(minutes=30))
    assert await silencer.sweep_ended() == []  # not ended yet

    clock.advance(30 * 60)
    alertmanager.end(silence_id, clock.now())
    for a in BOTH:
        del alertmanager.alerts_held[a["fingerprint"]]
    assert await silencer.sweep_ended() == [1]
    assert await silencer.sweep_ended() == []  # recorded once, on any number of replicas

    async with store.transaction() as uow:
        incident = await uow.incidents.get(1)
    assert incident is not None
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.silenced_until is None
    kinds = [(k, a) for k, a, _ in await _entries(store)]
    assert kinds[-5:] == [
        ("silence.expired", "bot:firebreak"),
        ("alert.resolved", "bot:firebreak"),
        ("alert.resolved", "bot:firebreak"),
        ("silence.checked", "bot:firebreak"),
        ("incident.resolved", "system:alertmanager"),
    ]
    expired = next(b for k, _, b in await _entries(store) if k == "silence.expired")
    assert expired["ends_at"] == "2026-12-07T09:30:00Z"
    checked = (await _entries(store))[-2][2]
    assert checked["after"] == "end"


async def test_without_alertmanager_the_watcher_has_nothing_to_do(policy: Policy) -> None:
    store, _, silencer, _ = await _setup(policy)
    unset = Silencer(store, None, silencer.directory, (), silencer.clock)
    assert await unset.sweep_ended() == []
