"""The storage contract, run alike on the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.actor import Actor
from bot.domain.escalation import NewTimer, TimerKind
from bot.domain.events import (
    ActionFinished,
    AlertRepeat,
    EventKind,
    Note,
    StatusChanged,
)
from bot.domain.incident import (
    AlertStatus,
    Delivery,
    DeliveryOutcome,
    Incident,
    IncidentFilter,
    IncidentStatus,
    Severity,
    Source,
)
from bot.domain.timeline import GENESIS, verify_chain
from bot.errors import Conflict, IntegrityViolation
from bot.ports import InboxBacklog, Store
from tests.support.store_builders import T0, alert, at, delivery, new_incident


class Boom(Exception):
    pass


async def resolved_beside_an_open_one(store: Store) -> Incident:
    """A resolved incident whose group has opened a new one since: it cannot be reopened."""
    async with store.transaction() as uow:
        first, _ = await uow.incidents.open_for_group(new_incident())
        resolved = dataclasses.replace(first, status=IncidentStatus.RESOLVED)
        await uow.incidents.save(resolved)
        await uow.incidents.open_for_group(new_incident())
    return resolved


async def test_open_for_group_is_idempotent(store: Store) -> None:
    async with store.transaction() as uow:
        first, created = await uow.incidents.open_for_group(new_incident())
    async with store.transaction() as uow:
        again, created_again = await uow.incidents.open_for_group(new_incident(title="other"))
    assert created
    assert not created_again
    assert again == first
    assert again.title == "LNN service down"


async def test_open_for_group_in_one_transaction_returns_the_same_incident(store: Store) -> None:
    async with store.transaction() as uow:
        first, _ = await uow.incidents.open_for_group(new_incident())
        again, created = await uow.incidents.open_for_group(new_incident())
    assert (again.id, created) == (first.id, False)


async def test_resolved_group_opens_a_new_incident(store: Store) -> None:
    async with store.transaction() as uow:
        first, _ = await uow.incidents.open_for_group(new_incident())
        await uow.incidents.save(
            dataclasses.replace(first, status=IncidentStatus.RESOLVED, resolved_at=at(60))
        )
    async with store.transaction() as uow:
        second, created = await uow.incidents.open_for_group(new_incident(created_at=at(120)))
        latest = await uow.incidents.latest_for_group(first.group_key or "")
        old = await uow.incidents.get(first.id)
    assert created
    assert second.id != first.id
    assert latest == second
    assert old is not None
    assert old.status is IncidentStatus.RESOLVED
    assert old.resolved_at == at(60)


async def test_groups_are_kept_apart(store: Store) -> None:
    async with store.transaction() as uow:
        a, _ = await uow.incidents.open_for_group(new_incident(group_key="a"))
        b, created = await uow.incidents.open_for_group(new_incident(group_key="b"))
        missing = await uow.incidents.latest_for_group("c")
    assert created
    assert a.id != b.id
    assert missing is None


async def test_reopening_beside_an_open_incident_of_the_group_conflicts(store: Store) -> None:
    resolved = await resolved_beside_an_open_one(store)
    with pytest.raises(Conflict):
        async with store.transaction() as uow:
            await uow.incidents.save(dataclasses.replace(resolved, status=IncidentStatus.TRIGGERED))


async def test_for_pagerduty_is_idempotent(store: Store) -> None:
    new = new_incident(group_key=None, pagerduty_id="PT4KHLK", source=Source.PAGERDUTY)
    async with store.transaction() as uow:
        first, created = await uow.incidents.for_pagerduty(new)
    async with store.transaction() as uow:
        again, created_again = await uow.incidents.for_pagerduty(new)
        other, created_other = await uow.incidents.for_pagerduty(
            dataclasses.replace(new, pagerduty_id="PXYZ")
        )
    assert (created, created_again, created_other) == (True, False, True)
    assert again == first
    assert first.pagerduty_id == "PT4KHLK"
    assert first.source is Source.PAGERDUTY
    assert other.id != first.id


async def test_get_and_save_round_trip_every_mutable_field(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        missing = await uow.incidents.get(incident.id + 1000)
    changed = dataclasses.replace(
        incident,
        title="renamed",
        severity=Severity.P1,
        status=IncidentStatus.ACKNOWLEDGED,
        service="lnn-api",
        scenario="performance",
        response_minutes=60,
        updated_at=at(5),
        pagerduty_id="PABC",
        acknowledged_at=at(5),
        status_changed_at=at(4),
        labels={"team": "ml"},
        commander="U0BOSS",
        acknowledged_by="slack:U0ACK",
        resolved_by="system:alertmanager",
    )
    async with store.transaction() as uow:
        locked = await uow.incidents.get(incident.id, for_update=True)
        await uow.incidents.save(changed)
    async with store.transaction() as uow:
        reread = await uow.incidents.get(incident.id)
    assert (incident.commander, incident.acknowledged_by, incident.resolved_by) == (None,) * 3
    assert missing is None
    assert locked == incident
    assert reread == changed


async def test_new_incident_fields_are_stored(store: Store) -> None:
    new = new_incident(status=IncidentStatus.ACKNOWLEDGED, status_changed_at=at(-1))
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new)
    async with store.transaction() as uow:
        reread = await uow.incidents.get(incident.id)
    assert reread == incident
    assert incident.status is IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_at == T0
    assert incident.status_changed_at == at(-1)
    assert incident.created_at == incident.updated_at == T0
    assert dict(incident.labels) == {"alertname": "LNNServiceDown", "severity": "critical"}
    assert incident.resolved_at is None


async def test_timestamps_round_trip_as_aware_utc_with_microseconds(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        episode = await uow.alerts.add(incident.id, alert(ends_at=at(1)), Severity.P0)
        await uow.timeline.append(
            incident.id, at=T0, actor=Actor.parse("bot"), event=Note(text="opened")
        )
    async with store.transaction() as uow:
        reread = await uow.incidents.get(incident.id)
        stored = await uow.alerts.get(alert().fingerprint, T0)
        (entry,) = await uow.timeline.for_incident(incident.id)
    assert episode is not None
    assert reread is not None
    assert stored is not None
    for value in (reread.created_at, stored.starts_at, stored.ends_at, entry.at):
        assert value is not None
        assert value.tzinfo is UTC
        assert value == T0 or value == at(1)
    assert reread.created_at.microsecond == T0.microsecond
    assert reread.created_at == T0
    assert entry.at == T0


async def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 1, 1, 12, 0, 0)  # naive on purpose
    with pytest.raises(ValueError, match="naive"):
        async with store.transaction() as uow:
            await uow.incidents.open_for_group(new_incident(created_at=naive))


# Fits a datetime, but its UTC value (year 10000) does not: an Alertmanager startsAt of
# 9999-12-31T23:00:00-14:00, as intake accepted before it checked.
NO_UTC_VALUE = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14)))


async def test_a_datetime_with_no_utc_value_is_refused_as_itself(store: Store) -> None:
    # Not as StorageUnavailable: that means "the database is down", and the inbox processor
    # pauses every delivery for it, where this is one delivery's bad value.
    with pytest.raises(OverflowError):
        async with store.transaction() as uow:
            await uow.alerts.get(alert().fingerprint, NO_UTC_VALUE)
    async with store.transaction() as uow:
        assert await uow.alerts.get(alert().fingerprint, T0) is None


async def test_alert_episodes_are_unique_per_fingerprint_and_start(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        first = await uow.alerts.add(incident.id, alert(), Severity.P1)
        duplicate = await uow.alerts.add(incident.id, alert(), Severity.P0)
    async with store.transaction() as uow:
        duplicate_later = await uow.alerts.add(incident.id, alert(starts_at=at(0)), Severity.P1)
        refired = await uow.alerts.add(incident.id, alert(starts_at=at(300)), Severity.P1)
        other = await uow.alerts.add(incident.id, alert("ffff", starts_at=at(-10)), Severity.P2)
    assert first is not None
    assert (duplicate, duplicate_later) == (None, None)
    assert refired is not None
    assert other is not None
    assert first.severity is Severity.P1
    assert first.status is AlertStatus.FIRING
    assert dict(first.labels) == {"alertname": "LNNServiceDown", "pod": "lnn-0"}
    assert dict(first.annotations) == {"summary": "down"}
    assert first.generator_url == "http://prometheus/graph"
    assert len({first.id, refired.id, other.id}) == 3
    async with store.transaction() as uow:
        listed = await uow.alerts.for_incident(incident.id)
        fetched = await uow.alerts.get(first.fingerprint, first.starts_at)
        nothing = await uow.alerts.get("nope", T0)
    assert [e.id for e in listed] == [other.id, first.id, refired.id]
    assert fetched == first
    assert nothing is None


async def test_resolving_an_episode(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        episode = await uow.alerts.add(incident.id, alert(), Severity.P0)
        assert episode is not None
        await uow.alerts.resolve(episode.id, at(90))
    async with store.transaction() as uow:
        stored = await uow.alerts.get(episode.fingerprint, episode.starts_at)
    assert stored == dataclasses.replace(episode, status=AlertStatus.RESOLVED, ends_at=at(90))


async def test_an_episode_needs_an_existing_incident(store: Store) -> None:
    with pytest.raises(IntegrityViolation):
        async with store.transaction() as uow:
            await uow.alerts.add(4242, alert(), Severity.P0)


async def test_deliveries_are_recorded_once(store: Store) -> None:
    async with store.transaction() as uow:
        first = await uow.deliveries.record(delivery("w1"))
        again = await uow.deliveries.record(delivery("w1"))
    async with store.transaction() as uow:
        later = await uow.deliveries.record(delivery("w1"))
        other_source = await uow.deliveries.record(delivery("w1", source=Source.ALERTMANAGER))
        other_key = await uow.deliveries.record(delivery("w2"))
        await uow.deliveries.set_outcome(Source.PAGERDUTY, "w1", DeliveryOutcome.PROCESSED, "done")
    assert (first, again, later, other_source, other_key) == (True, False, False, True, True)


async def test_the_inbox_hands_out_due_pending_deliveries_oldest_first(store: Store) -> None:
    am = [delivery(f"am-{n}", source=Source.ALERTMANAGER) for n in range(4)]
    async with store.transaction() as uow:
        await uow.deliveries.enqueue(am[:2])
        await uow.deliveries.enqueue([delivery("pd-1")])  # another source's inbox row
        await uow.deliveries.enqueue([])
        await uow.deliveries.enqueue(am[2:])
        assert await uow.deliveries.record(delivery("recorded"))  # no outcome: not pending
        assert await uow.deliveries.count_pending() == 5
    async with store.transaction() as uow:
        taken = await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=T0, limit=10)
        first_two = await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=T0, limit=2)
        pagerduty = await uow.deliveries.take_pending(source=Source.PAGERDUTY, now=T0, limit=10)
    assert [p.delivery for p in taken] == am
    assert [p.attempts for p in taken] == [0, 0, 0, 0]
    ids = [p.id for p in taken]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert first_two == taken[:2]
    assert [p.delivery.key for p in pagerduty] == ["pd-1"]
    # Taking does not settle: without ``finish`` the rows stay pending.
    async with store.transaction() as uow:
        assert await uow.deliveries.count_pending() == 5


async def test_inbox_deliveries_settle_once_and_defer_with_attempts(store: Store) -> None:
    am = [delivery(f"am-{n}", source=Source.ALERTMANAGER) for n in range(3)]
    async with store.transaction() as uow:
        await uow.deliveries.enqueue(am)
    async with store.transaction() as uow:
        first, second, third = await uow.deliveries.take_pending(
            source=Source.ALERTMANAGER, now=T0, limit=10
        )
        assert await uow.deliveries.finish(first.id, DeliveryOutcome.PROCESSED)
        assert not await uow.deliveries.finish(first.id, DeliveryOutcome.FAILED, "again")
        assert await uow.deliveries.defer(first.id, not_before=at(1), error="settled") == 0
        assert await uow.deliveries.defer(second.id, not_before=at(60), error="boom") == 1
    async with store.transaction() as uow:
        assert await uow.deliveries.defer(second.id, not_before=at(120), error="boom") == 2
        assert await uow.deliveries.count_pending() == 2
        # A deferred delivery is not due before its time, then comes back in arrival order.
        early = await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=at(119), limit=10)
        due = await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=at(120), limit=10)
    assert [p.delivery.key for p in early] == ["am-2"]
    assert [(p.delivery.key, p.attempts) for p in due] == [("am-1", 2), ("am-2", 0)]
    async with store.transaction() as uow:
        assert await uow.deliveries.finish(third.id, DeliveryOutcome.IGNORED, "nothing to do")
        assert await uow.deliveries.finish(second.id, DeliveryOutcome.FAILED, "gave up")
        assert not await uow.deliveries.finish(second.id, DeliveryOutcome.PROCESSED)
        assert await uow.deliveries.count_pending() == 0
        assert (
            await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=at(10**6), limit=10)
            == []
        )


async def test_the_inbox_backlog_counts_what_waits_and_its_first_arrival(store: Store) -> None:
    def arriving(key: str, seconds: float, source: Source = Source.ALERTMANAGER) -> Delivery:
        return dataclasses.replace(delivery(key, source=source), received_at=at(seconds))

    async with store.transaction() as uow:
        assert await uow.deliveries.backlog() == InboxBacklog(0, None)
        assert await uow.deliveries.record(arriving("recorded", -60, Source.PAGERDUTY))
        await uow.deliveries.enqueue([arriving("am-0", 5), arriving("am-1", 10)])
        await uow.deliveries.enqueue([arriving("pd-0", 7, Source.PAGERDUTY)])
        assert await uow.deliveries.backlog() == InboxBacklog(3, at(5))
        first, _ = await uow.deliveries.take_pending(
            source=Source.ALERTMANAGER, now=at(10), limit=10
        )
        # Deferred is still waiting; settled is not.
        assert await uow.deliveries.defer(first.id, not_before=at(600), error="boom") == 1
        assert await uow.deliveries.backlog() == InboxBacklog(3, at(5))
        assert await uow.deliveries.finish(first.id, DeliveryOutcome.FAILED, "gave up")
    async with store.transaction() as uow:
        backlog = await uow.deliveries.backlog()
    assert backlog == InboxBacklog(2, at(7))
    assert backlog.oldest_received_at is not None
    assert backlog.oldest_received_at.tzinfo is UTC
    assert backlog.oldest_age(at(67)) == 60.0
    assert backlog.oldest_age(at(0)) == 0.0
    assert InboxBacklog(0, None).oldest_age(at(67)) == 0.0


async def test_enqueueing_a_stored_key_conflicts_and_stores_none_of_the_batch(
    store: Store,
) -> None:
    async with store.transaction() as uow:
        await uow.deliveries.enqueue([delivery("am-0", source=Source.ALERTMANAGER)])
    with pytest.raises(Conflict):
        async with store.transaction() as uow:
            await uow.deliveries.enqueue(
                [
                    delivery("am-1", source=Source.ALERTMANAGER),
                    delivery("am-0", source=Source.ALERTMANAGER),
                ]
            )
    async with store.transaction() as uow:
        pending = await uow.deliveries.take_pending(source=Source.ALERTMANAGER, now=T0, limit=10)
    assert [p.delivery.key for p in pending] == ["am-0"]


async def test_timeline_is_numbered_and_chained(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        other, _ = await uow.incidents.open_for_group(new_incident(group_key="other"))
        first = await uow.timeline.append(
            incident.id,
            at=T0,
            actor=Actor.parse("system:alertmanager"),
            event=AlertRepeat(alerts=1, status=""),
        )
        await uow.timeline.append(other.id, at=T0, actor=Actor.parse("bot"), event=Note(text=""))
    async with store.transaction() as uow:
        second = await uow.timeline.append(
            incident.id,
            at=at(1),
            actor=Actor.parse("slack:U123"),
            event=StatusChanged(kind=EventKind.INCIDENT_ACKNOWLEDGED),
        )
        third = await uow.timeline.append(
            incident.id,
            at=at(2),
            actor=Actor.parse("bot"),
            event=ActionFinished(
                kind=EventKind.ACTION_SUCCEEDED,
                detail="ünïcode & <tags>",
                snapshot={"b": [1, 2.5, None], "a": True},
            ),
        )
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(incident.id)
        others = await uow.timeline.for_incident(other.id)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert list(entries) == [first, second, third]
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert [e.seq for e in others] == [1]
    verify_chain(entries)
    verify_chain(others)


async def test_tampered_timeline_is_detected(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        for n in range(3):
            await uow.timeline.append(
                incident.id, at=at(n), actor=Actor.parse("bot"), event=Note(text=str(n))
            )
    async with store.transaction() as uow:
        entries = list(await uow.timeline.for_incident(incident.id))
    edited = [*entries]
    edited[1] = dataclasses.replace(entries[1], body={"text": "99"})
    with pytest.raises(IntegrityViolation, match="entry 2 was altered"):
        verify_chain(edited)
    with pytest.raises(IntegrityViolation, match="entry 2 is missing"):
        verify_chain([entries[0], entries[2]])
    retimed = [dataclasses.replace(entries[0], at=at(0.000001)), *entries[1:]]
    with pytest.raises(IntegrityViolation, match="entry 1 was altered"):
        verify_chain(retimed)


async def test_timeline_entries_read_back_identical_to_what_append_returned(store: Store) -> None:
    snapshot = {"when": T0, "tuple": (1, 2)}
    event = ActionFinished(kind=EventKind.ACTION_FAILED, snapshot=snapshot)
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
        appended = await uow.timeline.append(
            incident.id, at=T0, actor=Actor.parse("bot"), event=event
        )
    async with store.transaction() as uow:
        (stored,) = await uow.timeline.for_incident(incident.id)
    assert stored == appended
    assert stored.body["snapshot"] == {"when": str(T0), "tuple": [1, 2]}
    verify_chain([stored])


async def test_an_exception_rolls_back_every_write(store: Store) -> None:
    async with store.transaction() as uow:
        kept, _ = await uow.incidents.open_for_group(new_incident(group_key="kept"))

    async def write_then_fail() -> None:
        async with store.transaction() as uow:
            incident, _ = await uow.incidents.open_for_group(new_incident())
            await uow.alerts.add(incident.id, alert(), Severity.P0)
            await uow.timeline.append(
                kept.id, at=T0, actor=Actor.parse("bot"), event=Note(text="k")
            )
            await uow.deliveries.record(delivery("rolled-back"))
            await uow.incidents.save(dataclasses.replace(kept, title="changed"))
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()
    async with store.transaction() as uow:
        incidents = await uow.incidents.list(IncidentFilter())
        episode = await uow.alerts.get(alert().fingerprint, T0)
        entries = await uow.timeline.for_incident(kept.id)
        recorded_again = await uow.deliveries.record(delivery("rolled-back"))
    assert incidents == [kept]
    assert episode is None
    assert entries == []
    assert recorded_again


async def test_a_conflict_rolls_back_the_transaction(store: Store) -> None:
    resolved = await resolved_beside_an_open_one(store)

    async def record_then_conflict() -> None:
        async with store.transaction() as uow:
            await uow.deliveries.record(delivery("before-conflict"))
            await uow.incidents.save(dataclasses.replace(resolved, status=IncidentStatus.TRIGGERED))

    with pytest.raises(Conflict):
        await record_then_conflict()
    async with store.transaction() as uow:
        assert await uow.deliveries.record(delivery("before-conflict"))


async def test_list_filters_and_orders_newest_first(store: Store) -> None:
    specs = [
        ("g1", Severity.P0, IncidentStatus.TRIGGERED),
        ("g2", Severity.P1, IncidentStatus.ACKNOWLEDGED),
        ("g3", Severity.P2, IncidentStatus.RESOLVED),
        ("g4", Severity.P1, IncidentStatus.RESOLVED),
        ("g5", Severity.P1, IncidentStatus.TRIGGERED),
    ]
    ids: dict[str, int] = {}
    async with store.transaction() as uow:
        for key, severity, status in specs:
            incident, _ = await uow.incidents.open_for_group(
                new_incident(group_key=key, severity=severity)
            )
            await uow.incidents.save(dataclasses.replace(incident, status=status))
            ids[key] = incident.id

    async def keys(**filters: object) -> list[str]:
        async with store.transaction() as uow:
            found = await uow.incidents.list(IncidentFilter(**filters))  # type: ignore[arg-type]
        return [incident.group_key or "" for incident in found]

    assert await keys() == ["g5", "g4", "g3", "g2", "g1"]
    assert await keys(status=IncidentStatus.RESOLVED) == ["g4", "g3"]
    assert await keys(open_only=True) == ["g5", "g2", "g1"]
    assert await keys(severity=Severity.P1) == ["g5", "g4", "g2"]
    assert await keys(severity=Severity.P1, open_only=True) == ["g5", "g2"]
    assert await keys(limit=2) == ["g5", "g4"]
    assert await keys(before_id=ids["g4"], limit=2) == ["g3", "g2"]
    assert await keys(status=IncidentStatus.TRIGGERED, severity=Severity.P2) == []


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_enqueue_once_stores_a_key_once_and_pending(store: Store) -> None:
    async with store.transaction() as uow:
        first = await uow.deliveries.enqueue_once(delivery("wh-1"))
        again = await uow.deliveries.enqueue_once(delivery("wh-1"))
    async with store.transaction() as uow:
        later = await uow.deliveries.enqueue_once(delivery("wh-1"))
        recorded = await uow.deliveries.record(delivery("wh-1"))
        other_source = await uow.deliveries.enqueue_once(
            delivery("wh-1", source=Source.ALERTMANAGER)
        )
        assert await uow.deliveries.count_pending() == 2
    assert (first, again, later, recorded, other_source) == (True, False, False, False, True)


async def test_the_inbox_hands_out_every_source_in_arrival_order(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.deliveries.enqueue([delivery("am-0", source=Source.ALERTMANAGER)])
        assert await uow.deliveries.enqueue_once(delivery("pd-0"))
        await uow.deliveries.enqueue([delivery("am-1", source=Source.ALERTMANAGER)])
        assert await uow.deliveries.record(delivery("recorded"))  # no outcome: not pending
    async with store.transaction() as uow:
        every = await uow.deliveries.take_pending(now=T0, limit=10)
        first_two = await uow.deliveries.take_pending(now=T0, limit=2)
    assert [p.delivery.key for p in every] == ["am-0", "pd-0", "am-1"]
    assert [p.delivery.source for p in every] == [
        Source.ALERTMANAGER,
        Source.PAGERDUTY,
        Source.ALERTMANAGER,
    ]
    assert first_two == every[:2]


async def test_list_filters_by_service(store: Store) -> None:
    async with store.transaction() as uow:
        for key, service in (("g1", "lnn-service"), ("g2", "checkout"), ("g3", "lnn-service")):
            await uow.incidents.open_for_group(new_incident(group_key=key, service=service))
    async with store.transaction() as uow:
        found = await uow.incidents.list(IncidentFilter(service="lnn-service"))
        assert [i.group_key for i in found] == ["g3", "g1"]
        assert await uow.incidents.list(IncidentFilter(service="lnn")) == []


async def test_timers_of_several_incidents_are_read_at_once(store: Store) -> None:
    async with store.transaction() as uow:
        ids = [
            (await uow.incidents.open_for_group(new_incident(group_key=f"g{n}")))[0].id
            for n in range(3)
        ]
        await uow.escalations.schedule(
            [
                NewTimer(ids[0], 1, Severity.P0, TimerKind.TARGET, -1, at(900)),
                NewTimer(ids[0], 1, Severity.P0, TimerKind.LEVEL, 1, at(900)),
                NewTimer(ids[0], 1, Severity.P0, TimerKind.LEVEL, 0, at(0)),
                NewTimer(ids[2], 1, Severity.P2, TimerKind.LEVEL, 0, at(0)),
            ],
            at=T0,
        )
    async with store.transaction() as uow:
        found = await uow.escalations.for_incidents(ids)
        assert set(found) == {ids[0], ids[2]}
        for incident_id in (ids[0], ids[2]):
            assert found[incident_id] == await uow.escalations.for_incident(incident_id)
        assert [(t.kind, t.level) for t in found[ids[0]]] == [
            (TimerKind.LEVEL, 0),
            (TimerKind.LEVEL, 1),
            (TimerKind.TARGET, -1),
        ]
        assert await uow.escalations.for_incidents([]) == {}
