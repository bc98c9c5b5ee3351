"""Flapping and inhibition at alert intake (the policy's ``noise`` section) on every store
backend (memory, SQLite, PostgreSQL), through the real inbox processor and the escalation
reactor, with time moved on a ``FixedClock``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.escalation import TimerStatus
from bot.domain.events import EventKind
from bot.domain.incident import AlertStatus, IncidentFilter, IncidentStatus, Severity
from bot.domain.timeline import verify_chain
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.ingest_alertmanager import AlertIngestResult
from bot.services.incidents.queries import IncidentDetail, show_incident
from bot.services.publishing import PublishingStore
from tests.support.escalation import entries_of, escalating_store, escalation_policy, timers_of
from tests.support.inbox import deliver
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook

NS, DEP = "firebreak", "lnn-service"
WHERE = {"namespace": NS, "deployment": DEP}
REACH = Reach(paging=True, email=True)


@pytest.fixture
def paths(policy: Policy) -> Policy:
    return escalation_policy(policy)


@pytest.fixture
def published(store: Store, paths: Policy, clock: FixedClock) -> PublishingStore:
    return escalating_store(store, paths, clock)


class Flapper:
    """One group (``g-flap``) of one latency alert, fired and resolved as time moves; each
    firing is a new episode (a new ``startsAt``), as Alertmanager sends it."""

    def __init__(self, store: Store, policy: Policy, clock: FixedClock) -> None:
        self.store, self.policy, self.clock = store, policy, clock
        self.current: dict[str, Any] | None = None

    async def fire(self) -> AlertIngestResult:
        self.current = alert(
            "LNNHighLatency", starts_at=self.clock.now(), namespace=NS, deployment=DEP
        )
        return await self._send(self.current)

    async def resolve(self) -> AlertIngestResult:
        assert self.current is not None
        return await self._send(resolved(self.current, self.clock.now()))

    async def _send(self, payload: dict[str, Any]) -> AlertIngestResult:
        return await deliver(self.store, self.policy, self.clock, webhook("g-flap", [payload]))


async def detail_of(store: Store, incident_id: int) -> IncidentDetail:
    detail = await show_incident(store, incident_id)
    verify_chain(detail.timeline)
    return detail


async def all_incidents(store: Store) -> list[int]:
    async with store.transaction() as uow:
        return sorted(i.id for i in await uow.incidents.list(IncidentFilter()))


async def test_firing_again_within_the_window_reopens_the_incident_with_one_flap(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    group = Flapper(published, paths, clock)
    (first,) = (await group.fire()).opened
    clock.advance(60)
    assert (await group.resolve()).resolved_incidents == 1
    clock.advance(5 * 60)

    again = await group.fire()

    assert again.opened == ()
    assert again.incident_ids == (first.id,)
    assert await all_incidents(published) == [first.id]
    detail = await detail_of(published, first.id)
    assert detail.incident.status is IncidentStatus.TRIGGERED
    assert detail.incident.flap_count == 1
    # Unanswered again: an old resolution would read as the new target already met.
    assert detail.incident.resolved_by is None
    assert detail.incident.resolved_at is None
    assert detail.incident.acknowledged_at is None
    assert detail.incident.acknowledged_by is None
    assert [a.status for a in detail.alerts] == [AlertStatus.RESOLVED, AlertStatus.FIRING]
    (flap,) = [e for e in detail.timeline if e.kind == EventKind.INCIDENT_FLAPPED]
    assert flap.body["count"] == 1
    assert flap.body["window"] == "10m"
    assert "paging_held_until" not in flap.body
    kinds = [e.kind for e in detail.timeline]
    assert kinds[-3:] == ["incident.triggered", "incident.flapped", "alert.firing"]
    # Below the threshold a re-trigger pages as before: a second run starts now.
    pending = [t for t in await timers_of(published, first.id) if t.status is TimerStatus.PENDING]
    assert {t.run for t in pending} == {2}
    assert min(t.due_at for t in pending) == clock.now()


async def test_firing_again_after_the_window_opens_a_second_incident(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    group = Flapper(published, paths, clock)
    (first,) = (await group.fire()).opened
    clock.advance(60)
    await group.resolve()
    clock.advance(10 * 60 + 1)

    (second,) = (await group.fire()).opened

    assert second.id != first.id
    assert await all_incidents(published) == [first.id, second.id]
    old = await detail_of(published, first.id)
    assert old.incident.status is IncidentStatus.RESOLVED
    assert old.incident.flap_count == 0
    assert (await detail_of(published, second.id)).incident.flap_count == 0


async def test_past_the_threshold_a_retrigger_starts_no_path_until_it_stays_firing(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    assert paths.noise.flap.threshold == 3
    group = Flapper(published, paths, clock)
    (incident,) = (await group.fire()).opened
    for _ in range(3):
        clock.advance(60)
        await group.resolve()
        clock.advance(60)
        await group.fire()
    flapped_at = clock.now()
    detail = await detail_of(published, incident.id)
    assert detail.incident.flap_count == 3
    flaps = [e for e in detail.timeline if e.kind == EventKind.INCIDENT_FLAPPED]
    assert [f.body.get("paging_held_until") for f in flaps] == [
        None,
        None,
        (flapped_at + timedelta(minutes=10)).isoformat(),
    ]
    pending = [
        t for t in await timers_of(published, incident.id) if t.status is TimerStatus.PENDING
    ]
    assert {t.run for t in pending} == {4}
    assert min(t.due_at for t in pending) == flapped_at + timedelta(minutes=10)
    fired_before = len(await entries_of(published, incident.id, EventKind.ESCALATION_FIRED))

    # Nothing is due during the hold, so nobody is paged.
    clock.advance(9 * 60)
    assert await fire_due(published, paths, clock, REACH) == 0
    # It resolves during the hold: the held run is cancelled and never pages.
    await group.resolve()
    timers = await timers_of(published, incident.id)
    assert not [t for t in timers if t.status is TimerStatus.PENDING]
    clock.advance(60 * 60)
    assert await fire_due(published, paths, clock, REACH) == 0
    fired = await entries_of(published, incident.id, EventKind.ESCALATION_FIRED)
    assert len(fired) == fired_before


async def test_a_flapping_incident_that_stays_firing_pages_after_the_hold(
    published: PublishingStore, paths: Policy, clock: FixedClock
) -> None:
    group = Flapper(published, paths, clock)
    (incident,) = (await group.fire()).opened
    for _ in range(3):
        clock.advance(60)
        await group.resolve()
        clock.advance(60)
        await group.fire()
    fired_before = len(await entries_of(published, incident.id, EventKind.ESCALATION_FIRED))
    clock.advance(10 * 60)
    assert await fire_due(published, paths, clock, REACH) == 1
    fired = await entries_of(published, incident.id, EventKind.ESCALATION_FIRED)
    assert len(fired) == fired_before + 1


async def open_down(store: Store, policy: Policy, clock: FixedClock) -> int:
    """A P0 "service down" of lnn-service, open."""
    down = alert("LNNServiceDown", namespace=NS, deployment=DEP)
    (incident,) = (await deliver(store, policy, clock, webhook("g-down", [down]))).opened
    assert (incident.severity, incident.scenario) == (Severity.P0, "service-down")
    return incident.id


async def test_a_latency_alert_of_the_same_deployment_joins_an_open_service_down(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    down_id = await open_down(store, policy, clock)
    clock.advance(30)
    latency = alert("LNNHighLatency", starts_at=clock.now(), namespace=NS, deployment=DEP)
    errors = alert("LNNHighErrorRate", starts_at=clock.now(), namespace=NS, deployment=DEP)

    joined = await deliver(store, policy, clock, webhook("g-symptoms", [latency, errors]))

    assert joined.opened == ()
    assert joined.incident_ids == (down_id,)
    assert await all_incidents(store) == [down_id]
    detail = await detail_of(store, down_id)
    assert sorted(a.name for a in detail.alerts) == [
        "LNNHighErrorRate",
        "LNNHighLatency",
        "LNNServiceDown",
    ]
    assert detail.incident.severity is Severity.P0
    (entry,) = [e for e in detail.timeline if e.kind == EventKind.SYMPTOMS_JOINED]
    assert entry.body["group_key"] == "g-symptoms"
    assert entry.body["alerts"] == 2
    assert entry.body["alertnames"] == "LNNHighErrorRate, LNNHighLatency"
    assert entry.body["equal"] == WHERE

    # The symptoms' resolutions come back to the incident they joined; it resolves only
    # once the outage and its symptoms all have.
    clock.advance(60)
    symptoms_over = webhook(
        "g-symptoms", [resolved(latency, clock.now()), resolved(errors, clock.now())]
    )
    over = await deliver(store, policy, clock, symptoms_over)
    assert (over.incident_ids, over.resolved_alerts, over.resolved_incidents) == ((down_id,), 2, 0)
    assert (await detail_of(store, down_id)).incident.status is IncidentStatus.TRIGGERED
    down = alert("LNNServiceDown", namespace=NS, deployment=DEP)
    back = await deliver(store, policy, clock, webhook("g-down", [resolved(down, clock.now())]))
    assert back.resolved_incidents == 1


async def test_a_latency_alert_of_another_deployment_opens_its_own(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    down_id = await open_down(store, policy, clock)
    latency = alert("LNNHighLatency", namespace="firebreak", deployment="other-service")

    (own,) = (await deliver(store, policy, clock, webhook("g-other", [latency]))).opened

    assert own.id != down_id
    assert own.scenario == "high-latency"
    detail = await detail_of(store, down_id)
    assert [a.name for a in detail.alerts] == ["LNNServiceDown"]
    assert not [e for e in detail.timeline if e.kind == EventKind.SYMPTOMS_JOINED]


async def test_only_the_rules_targets_join_and_only_a_p0_source_takes_them(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    # A restarting pod is "service down" at P2: no outage, so no symptoms.
    restarts = alert("LNNPodRestarting", "warning", namespace=NS, deployment=DEP)
    (p2,) = (await deliver(store, policy, clock, webhook("g-restart", [restarts]))).opened
    assert (p2.severity, p2.scenario) == (Severity.P2, "service-down")
    latency = alert("LNNHighLatency", namespace=NS, deployment=DEP)
    (first,) = (await deliver(store, policy, clock, webhook("g-lat", [latency]))).opened
    assert first.id != p2.id
    # A P0 outage does not take alerts that are not its symptoms (memory is not one), nor a
    # group that mixes a symptom with something else.
    down_id = await open_down(store, policy, clock)
    memory = alert("LNNHighMemory", namespace=NS, deployment=DEP)
    errors = alert("LNNHighErrorRate", namespace=NS, deployment=DEP)
    (mem,) = (await deliver(store, policy, clock, webhook("g-mem", [memory]))).opened
    other_pod = alert("LNNHighMemory", pod="p2", namespace=NS, deployment=DEP)
    (mixed,) = (await deliver(store, policy, clock, webhook("g-mix", [errors, other_pod]))).opened
    assert len({p2.id, first.id, down_id, mem.id, mixed.id}) == 5


async def test_an_alert_without_the_equal_labels_is_nobodys_symptom(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    await open_down(store, policy, clock)
    latency = alert("LNNHighLatency", namespace="firebreak")
    assert len((await deliver(store, policy, clock, webhook("g-x", [latency]))).opened) == 1


async def test_a_group_that_has_its_own_incident_keeps_it(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    latency = alert("LNNHighLatency", namespace=NS, deployment=DEP)
    (own,) = (await deliver(store, policy, clock, webhook("g-lat", [latency]))).opened
    down_id = await open_down(store, policy, clock)
    clock.advance(30)
    more = alert(
        "LNNHighLatency",
        starts_at=T0 + timedelta(seconds=30),
        pod="p2",
        namespace=NS,
        deployment=DEP,
    )
    later = await deliver(store, policy, clock, webhook("g-lat", [latency, more]))
    assert later.incident_ids == (own.id,)
    assert len((await detail_of(store, down_id)).alerts) == 1
