"""The Alertmanager ingest use case on every store backend (memory, SQLite, PostgreSQL):
each notification is stored in the inbox and applied by the real inbox processor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FixedClock
from bot.domain.incident import (
    AlertStatus,
    DeliveryOutcome,
    IncidentFilter,
    IncidentStatus,
    Severity,
)
from bot.domain.timeline import verify_chain
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.incidents.inbox import NO_INCIDENT
from bot.services.incidents.ingest_alertmanager import AlertIngestResult
from bot.services.incidents.queries import show_incident
from tests.support.inbox import deliver, process
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook


async def send(
    store: Store, policy: Policy, clock: FixedClock, payload: dict[str, Any]
) -> AlertIngestResult:
    return await deliver(store, policy, clock, payload)


async def kinds(store: Store, incident_id: int) -> list[str]:
    detail = await show_incident(store, incident_id)
    verify_chain(detail.timeline)
    return [e.kind for e in detail.timeline]


async def test_firing_group_opens_one_classified_incident(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    result = await send(store, policy, clock, webhook("g1", [alert("LNNServiceDown")]))
    assert len(result.opened) == 1
    detail = await show_incident(store, result.opened[0].id)
    assert detail.incident.severity is Severity.P0
    assert detail.incident.scenario == "service-down"
    assert detail.incident.response_minutes == 15
    assert detail.incident.group_key == "g1"
    assert [a.status for a in detail.alerts] == [AlertStatus.FIRING]
    assert await kinds(store, detail.incident.id) == ["incident.opened", "alert.firing"]


async def test_resend_adds_no_incident_but_a_repeat_entry(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    payload = webhook("g1", [alert("LNNHighLatency")])
    first = await send(store, policy, clock, payload)
    again = await send(store, policy, clock, payload)
    assert again.opened == ()
    assert again.incident_ids == first.incident_ids
    async with store.transaction() as uow:
        assert len(await uow.incidents.list(IncidentFilter())) == 1
    assert (await kinds(store, first.incident_ids[0]))[-1] == "alert.repeat"


async def test_new_alert_joins_and_upgrades_severity(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    low = alert("LNNHighMemory", "warning")
    first = await send(store, policy, clock, webhook("g", [low]))
    assert first.opened[0].severity is Severity.P2
    clock.advance(30)
    down = alert("LNNServiceDown", "critical", starts_at=T0 + timedelta(seconds=30))
    second = await send(store, policy, clock, webhook("g", [low, down]))
    assert second.opened == ()
    assert second.new_alerts == 1
    detail = await show_incident(store, first.opened[0].id)
    assert detail.incident.severity is Severity.P0
    assert detail.incident.response_minutes == 15
    assert len(detail.alerts) == 2
    assert "severity.changed" in await kinds(store, detail.incident.id)


async def test_incident_resolves_when_every_alert_resolved(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    a = alert("LNNHighLatency", instance="a")
    b = alert("LNNHighLatency", instance="b")
    opened = (await send(store, policy, clock, webhook("g", [a, b]))).opened[0]
    clock.advance(60)
    half = await send(store, policy, clock, webhook("g", [resolved(a, clock.now()), b]))
    assert half.resolved_incidents == 0
    full = await send(
        store, policy, clock, webhook("g", [resolved(a, clock.now()), resolved(b, clock.now())])
    )
    assert full.resolved_alerts == 1
    assert full.resolved_incidents == 1
    detail = await show_incident(store, opened.id)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert detail.incident.resolved_at == clock.now()
    assert (await kinds(store, opened.id))[-1] == "incident.resolved"


async def test_group_firing_again_after_the_flap_window_opens_a_new_incident(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    a = alert("LNNHighLatency")
    first = (await send(store, policy, clock, webhook("g", [a]))).opened[0]
    clock.advance(60)
    await send(store, policy, clock, webhook("g", [resolved(a, clock.now())]))
    # A resolved notification re-sent after resolution changes nothing.
    late = await send(store, policy, clock, webhook("g", [resolved(a, clock.now())]))
    assert late.opened == ()
    assert late.resolved_alerts == 0
    # Sooner, it would reopen the same incident as a flap (tests/integration/test_noise_intake.py).
    clock.advance(policy.noise.flap.window.total_seconds() + 1)
    again = await send(
        store, policy, clock, webhook("g", [alert("LNNHighLatency", starts_at=clock.now())])
    )
    assert len(again.opened) == 1
    assert again.opened[0].id != first.id
    async with store.transaction() as uow:
        open_now = await uow.incidents.list(IncidentFilter(open_only=True))
    assert [i.id for i in open_now] == [again.opened[0].id]


async def test_still_firing_alerts_do_not_reopen_a_manually_resolved_incident(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    payload = webhook("g", [alert("LNNHighLatency")])
    first = (await send(store, policy, clock, payload)).opened[0]
    async with store.transaction() as uow:
        incident = await uow.incidents.get(first.id, for_update=True)
        assert incident is not None
        from dataclasses import replace

        await uow.incidents.save(replace(incident, status=IncidentStatus.RESOLVED))
    again = await send(store, policy, clock, payload)
    assert again.opened == ()


async def test_truncated_alerts_are_recorded(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    result = await send(store, policy, clock, webhook("g", [alert("LNNHighLatency")], truncated=7))
    detail = await show_incident(store, result.incident_ids[0])
    entries = [e for e in detail.timeline if e.kind == "alerts.truncated"]
    assert [e.body["truncated_alerts"] for e in entries] == [7]


async def test_resolved_alerts_of_unknown_group_are_kept_but_open_nothing(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    a = resolved(alert("LNNHighLatency"), T0 + timedelta(minutes=1))
    processed = await process(store, policy, clock, webhook("never-seen", [a]))
    assert processed.result is not None
    assert processed.result.incident_ids == ()
    # Kept: the delivery is settled as ignored, with the reason, not dropped or failed.
    assert processed.outcome is DeliveryOutcome.IGNORED
    assert processed.detail == NO_INCIDENT
    async with store.transaction() as uow:
        assert await uow.incidents.list(IncidentFilter()) == []


async def test_alert_without_severity_label_is_p2(
    store: Store, policy: Policy, clock: FixedClock
) -> None:
    result = await send(store, policy, clock, webhook("g", [alert("Whatever", None)]))
    assert result.opened[0].severity is Severity.P2
