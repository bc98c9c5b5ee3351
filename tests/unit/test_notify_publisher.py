"""The notification publisher on the memory store: escalation entries become pages, emails
and one Slack mention per level; firebreak's acknowledgements and resolutions follow a page
to PagerDuty, and PagerDuty's own do not go back to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.actor import BOT, Actor
from bot.domain.escalation import Via
from bot.domain.events import (
    EscalationFired,
    EventKind,
    PageRequested,
    notified,
)
from bot.domain.incident import Severity, TimelineEntry
from bot.domain.outbox import (
    CARD_CHANNEL,
    EMAIL,
    PAGERDUTY,
    SLACK,
    OutboxMessage,
    OutboxStatus,
    email_key,
    incident_key,
    pagerduty_key,
)
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.escalation import EscalationLevel, Notify, RotationMember, recipients
from bot.policy.model import Policy
from bot.ports import UnitOfWork
from bot.services.incidents import updates
from bot.services.incidents.ingest_alertmanager import apply_alert_group
from bot.services.incidents.ingest_pagerduty import apply_pagerduty_event
from bot.services.publishing import PublishingStore
from handlers.pagerduty_schema import parse_pagerduty
from tests.fakes.memory.store import MemoryStore
from tests.support.payloads import alertmanager as am
from tests.support.payloads.pagerduty import incident_event

PUBLIC_URL = "https://firebreak.example"
SERVICE = "lnn-service"  # the primary's PagerDuty service
TRIAGE = "C0TRIAGE"
PERSON = Actor("slack", "U0ACKER")


def paged_policy(policy: Policy) -> Policy:
    """The default policy with a rotation and a P0 and P2 path of its own."""
    rotation = {
        "primary": RotationMember(
            "primary", "Primary", "oncall@example.com", ("U0PRIMARY",), "lnn-service"
        ),
        "secondary": RotationMember(
            "secondary", "Secondary", "platform@example.com", ("U0SECOND", "S0PLATFORM")
        ),
    }
    p0 = (
        EscalationLevel(
            timedelta(0), (Notify(Via.PAGE, "primary"), Notify(Via.SLACK, "primary")), name=""
        ),
        EscalationLevel(
            timedelta(minutes=15),
            (Notify(Via.EMAIL, "secondary"), Notify(Via.SLACK, "secondary")),
            name="secondary",
        ),
    )
    p2 = (
        EscalationLevel(timedelta(0), (Notify(Via.EMAIL, "primary"),)),
        EscalationLevel(timedelta(hours=4), (Notify(Via.SLACK, "primary"),), name="reminder"),
    )
    levels = dict(policy.levels)
    levels[Severity.P0] = replace(levels[Severity.P0], path=p0)
    levels[Severity.P2] = replace(levels[Severity.P2], path=p2)
    return replace(policy, levels=levels, rotation=rotation)


class Chain:
    """Both publishers, in the order the app runs them (Slack's first: the card's rows)."""

    def __init__(self, *publishers: SlackPublisher | NotificationPublisher) -> None:
        self.publishers = publishers

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        for publisher in self.publishers:
            await publisher.publish(uow, incident_id, entries)


class World:
    def __init__(self, policy: Policy, clock: FixedClock, *, triage: str = TRIAGE) -> None:
        self.policy = paged_policy(policy)
        self.clock = clock
        self.memory = MemoryStore()
        self.store = PublishingStore(
            self.memory,
            Chain(
                SlackPublisher(policy=self.policy, clock=clock, triage_channel=triage),
                NotificationPublisher(
                    self.policy, clock, public_url=PUBLIC_URL + "/", triage_channel=triage
                ),
            ),
        )

    async def open(self, alertname: str = "LNNServiceDown", severity: str = "critical") -> int:
        """An incident opened by the real Alertmanager ingest; its id."""
        alert = am.alert(
            alertname, severity, namespace="firebreak", deployment="lnn-service", pod="lnn-0"
        )
        async with self.store.transaction() as uow:
            result = await apply_alert_group(
                uow,
                policy=self.policy,
                now=self.clock.now(),
                group=am.group(am.webhook(f"group-{alertname}", [alert])),
            )
        assert result.opened
        return result.opened[0].id

    async def fire(self, incident_id: int, severity: Severity, level: int) -> None:
        """What the escalation worker appends when a level fires."""
        path = self.policy.levels[severity].path
        event = EscalationFired(
            severity=severity.value,
            level=level,
            levels=len(path),
            after_seconds=int(path[level].after.total_seconds()),
            name=path[level].name,
            notified=notified(recipients(path[level], self.policy.rotation)),
        )
        await self.append(incident_id, event, BOT)

    async def append(
        self, incident_id: int, event: EscalationFired | PageRequested, actor: Actor
    ) -> None:
        async with self.store.transaction() as uow:
            await uow.timeline.append(incident_id, at=self.clock.now(), actor=actor, event=event)

    async def rows(self, key: str | None = None) -> Sequence[OutboxMessage]:
        async with self.memory.transaction() as uow:
            return await uow.outbox.list(ordering_key=key)

    async def sent_to(self, target: str) -> Sequence[OutboxMessage]:
        return [m for m in await self.rows() if m.call.target == target]

    async def settle(self, key: str, status: OutboxStatus) -> None:
        """Record every pending row of ``key`` as the worker would have."""
        async with self.memory.transaction() as uow:
            for message in await uow.outbox.list(ordering_key=key):
                claimed = await uow.outbox.claim(
                    worker="w", now=self.clock.now(), lease_seconds=60, limit=50
                )
                assert message.id in {m.id for m in claimed}
                if status is OutboxStatus.FAILED:
                    await uow.outbox.mark_failed(
                        message.id, worker="w", at=self.clock.now(), error="400"
                    )
                else:
                    await uow.outbox.mark_sent(message.id, at=self.clock.now(), result={})


@pytest.fixture
def world(policy: Policy, clock: FixedClock) -> World:
    return World(policy, clock)


def mentions(rows: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    return [
        m
        for m in rows
        if m.call.target == SLACK
        and m.call.method == "chat.postMessage"
        and "thread_ts" not in m.call.binds
        and "<@" in str(m.call.args.get("text", ""))
    ]


async def test_a_p0_level_pages_its_service_and_mentions_in_the_cards_channel(
    world: World,
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 0)

    (page,) = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert (page.call.target, page.call.method) == (PAGERDUTY, "trigger")
    args = page.call.args
    assert args["dedup_key"] == f"firebreak-{incident_id}"
    assert args["summary"].startswith("[P0] ")
    assert args["severity"] == "critical"
    assert args["service"] == "lnn-service"
    assert (args["component"], args["group"], args["class"]) == (
        "lnn-service",
        "firebreak",
        "service-down",
    )
    assert args["links"] == [
        {
            "href": f"{PUBLIC_URL}/ui/incidents/{incident_id}",
            "text": f"firebreak incident #{incident_id}",
        }
    ]
    details = args["custom_details"]
    assert details["level"] == "escalation level 1/2"
    assert details["alerts"][0]["name"] == "LNNServiceDown"
    assert details["alerts"][0]["labels"]["pod"] == "lnn-0"
    # The triage filled as the card fills it: namespace, deployment and selector known.
    assert details["triage"][0] == (
        "Check pod status: `kubectl get pods -n firebreak -l app.kubernetes.io/name=lnn-service`"
    )

    (mention,) = mentions(await world.rows(incident_key(incident_id)))
    assert mention.call.binds == {"channel": CARD_CHANNEL}
    text = mention.call.args["text"]
    assert "<@U0PRIMARY>" in text
    assert "escalation level 1/2" in text.lower()
    assert await world.sent_to(EMAIL) == []


async def test_a_later_level_emails_and_mentions_everyone_in_one_message(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    clock.advance(15 * 60)
    await world.fire(incident_id, Severity.P0, 1)

    (mail,) = await world.sent_to(EMAIL)
    assert (mail.call.target, mail.call.method) == (EMAIL, "send")
    assert mail.call.args["to"] == ["platform@example.com"]
    assert mail.call.args["subject"].startswith(f"[firebreak P0] #{incident_id} ")
    assert "escalation level 2/2 (secondary)" in mail.call.args["body"]
    assert "overdue by" not in mail.call.args["body"]  # 15 min of 15: past by nothing

    (mention,) = mentions(await world.rows(incident_key(incident_id)))
    blocks_text = mention.call.args["blocks"][0]["text"]["text"]
    assert "<@U0SECOND>" in blocks_text
    assert "<!subteam^S0PLATFORM>" in blocks_text
    assert "unacknowledged for 15 min" in blocks_text
    assert f"/incident ack {incident_id}" in blocks_text
    assert await world.rows(pagerduty_key(incident_id, SERVICE)) == []


async def test_the_thread_line_of_a_level_names_people_without_notifying_them_again(
    world: World,
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 1)
    threaded = [
        m for m in await world.rows(incident_key(incident_id)) if "thread_ts" in m.call.binds
    ]
    (line,) = threaded
    assert "U0SECOND" in line.call.args["text"]
    assert "<@U0SECOND>" not in str(line.call.args)
    # And the card is redrawn with the level reached.
    updates_ = [
        m for m in await world.rows(incident_key(incident_id)) if m.call.method == "chat.update"
    ]
    assert updates_, "escalation.fired redraws the card"


async def test_a_p2_emails_at_once_and_its_reminder_lands_in_the_triage_channel(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open("LNNHighMemory", "warning")
    await world.fire(incident_id, Severity.P2, 0)
    (mail,) = await world.sent_to(EMAIL)
    body = mail.call.args["body"]
    assert mail.call.args["to"] == ["oncall@example.com"]
    assert mail.call.args["subject"] == (
        f"[firebreak P2] #{incident_id} LNNHighMemory: LNNHighMemory is happening"
    )
    assert "Response target: 4 h (4 h left)" in body
    assert "kubectl top pods -n firebreak -l app.kubernetes.io/name=lnn-service" in body
    assert f"Incident page: {PUBLIC_URL}/ui/incidents/{incident_id}" in body
    assert f"acknowledge in Slack with /incident ack {incident_id}" in body

    clock.advance(4 * 3600 + 60)
    await world.fire(incident_id, Severity.P2, 1)
    (mention,) = mentions(await world.rows(incident_key(incident_id)))
    # The card of a P2 is the triage channel's post: the mention goes where the card is.
    assert mention.call.binds == {"channel": CARD_CHANNEL}
    card = [m for m in await world.rows(incident_key(incident_id)) if CARD_CHANNEL in m.call.saves]
    assert card[0].call.args["channel"] == TRIAGE


async def test_without_a_card_nor_a_triage_channel_nobody_is_mentioned(
    policy: Policy, clock: FixedClock
) -> None:
    world = World(policy, clock, triage="")
    incident_id = await world.open("LNNHighMemory", "warning")  # P2: no card without triage
    await world.fire(incident_id, Severity.P2, 1)
    assert mentions(await world.rows(incident_key(incident_id))) == []


async def test_a_page_by_hand_pages_and_says_who_asked(world: World) -> None:
    incident_id = await world.open()
    member = world.policy.rotation["primary"]
    event = PageRequested(
        notified=notified(
            recipients(
                EscalationLevel(timedelta(0), (Notify(Via.PAGE, "primary"),)),
                {"primary": member},
            )
        )
    )
    await world.append(incident_id, event, Actor("slack", "U0PAGER"))
    (page,) = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert page.call.args["custom_details"]["level"] == "paged by hand by slack:U0PAGER"
    assert page.call.args["service"] == "lnn-service"


async def test_acknowledging_and_resolving_a_paged_incident_follow_it_to_pagerduty(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 0)
    clock.advance(60)
    await updates.acknowledge(world.store, incident_id, actor=PERSON, at=clock.now())
    clock.advance(60)
    await updates.resolve(world.store, incident_id, actor=PERSON, at=clock.now())
    rows = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert [(m.call.method, m.call.args.get("service")) for m in rows] == [
        ("trigger", "lnn-service"),
        ("acknowledge", "lnn-service"),
        ("resolve", "lnn-service"),
    ]
    assert {m.call.args["dedup_key"] for m in rows} == {f"firebreak-{incident_id}"}


async def test_an_incident_never_paged_sends_nothing_to_pagerduty(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 1)  # email and Slack only
    await updates.acknowledge(world.store, incident_id, actor=PERSON, at=clock.now())
    await updates.resolve(world.store, incident_id, actor=PERSON, at=clock.now())
    assert await world.sent_to(PAGERDUTY) == []


async def test_a_page_that_failed_for_good_is_not_followed_up(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 0)
    await world.settle(pagerduty_key(incident_id, SERVICE), OutboxStatus.FAILED)
    await updates.acknowledge(world.store, incident_id, actor=PERSON, at=clock.now())
    rows = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert [m.call.method for m in rows] == ["trigger"]


async def test_what_pagerduty_itself_did_is_not_sent_back(world: World, clock: FixedClock) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 0)
    await world.settle(pagerduty_key(incident_id, SERVICE), OutboxStatus.SENT)
    for event_type in ("incident.acknowledged", "incident.resolved"):
        clock.advance(30)
        payload = incident_event(event_type, clock.now(), incident_key=f"firebreak-{incident_id}")
        event = parse_pagerduty(am.body(payload))
        assert event is not None
        async with world.store.transaction() as uow:
            await apply_pagerduty_event(uow, policy=world.policy, now=clock.now(), event=event)
    async with world.memory.transaction() as uow:
        kinds = [e.kind for e in await uow.timeline.for_incident(incident_id)]
    assert EventKind.INCIDENT_ACKNOWLEDGED in kinds
    assert EventKind.INCIDENT_RESOLVED in kinds
    rows = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert [m.call.method for m in rows] == ["trigger"]


def page_by_hand(*members: RotationMember) -> PageRequested:
    level = EscalationLevel(timedelta(0), tuple(Notify(Via.PAGE, m.key) for m in members))
    return PageRequested(notified=notified(recipients(level, {m.key: m for m in members})))


async def test_a_page_by_hand_has_a_dedup_key_of_its_own_and_is_followed_up_with_the_path(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    await world.fire(incident_id, Severity.P0, 0)
    await world.append(
        incident_id, page_by_hand(world.policy.rotation["primary"]), Actor("slack", "U0PAGER")
    )
    async with world.memory.transaction() as uow:
        (requested,) = [
            e
            for e in await uow.timeline.for_incident(incident_id)
            if e.kind == EventKind.PAGE_REQUESTED
        ]
    by_hand = f"firebreak-{incident_id}-page-{requested.seq}"
    triggers = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert [m.call.args["dedup_key"] for m in triggers] == [f"firebreak-{incident_id}", by_hand]

    await updates.acknowledge(world.store, incident_id, actor=PERSON, at=clock.now())
    rows = await world.rows(pagerduty_key(incident_id, SERVICE))
    assert [(m.call.method, m.call.args["dedup_key"]) for m in rows[2:]] == [
        ("acknowledge", f"firebreak-{incident_id}"),
        ("acknowledge", by_hand),
    ]


async def test_each_pagerduty_service_has_its_own_ordering_key_and_follow_ups(
    world: World, clock: FixedClock
) -> None:
    incident_id = await world.open()
    other = RotationMember("dba", "DBA", "", (), "db-service")
    default = RotationMember("lead", "Lead", "", ())  # the default routing key
    await world.append(
        incident_id,
        page_by_hand(world.policy.rotation["primary"], other, default),
        Actor("slack", "U0PAGER"),
    )
    keys = {m.call.ordering_key: m.call.args["service"] for m in await world.sent_to(PAGERDUTY)}
    assert keys == {
        f"pagerduty:{incident_id}:lnn-service": "lnn-service",
        f"pagerduty:{incident_id}:db-service": "db-service",
        f"pagerduty:{incident_id}:default": "",
    }
    # A trigger refused for good opened nothing to resolve; the others are resolved.
    await world.settle(pagerduty_key(incident_id, "db-service"), OutboxStatus.FAILED)
    await updates.resolve(world.store, incident_id, actor=PERSON, at=clock.now())
    resolves = [m for m in await world.sent_to(PAGERDUTY) if m.call.method == "resolve"]
    assert sorted((m.call.ordering_key, m.call.args["service"]) for m in resolves) == [
        (f"pagerduty:{incident_id}:default", ""),
        (f"pagerduty:{incident_id}:lnn-service", "lnn-service"),
    ]


async def test_every_email_has_its_own_ordering_key(world: World, clock: FixedClock) -> None:
    incident_id = await world.open("LNNHighMemory", "warning")
    await world.fire(incident_id, Severity.P2, 0)
    clock.advance(60)
    await world.fire(incident_id, Severity.P2, 0)  # the same address, a later entry
    primary = world.policy.rotation["primary"]
    level = EscalationLevel(
        timedelta(0), (Notify(Via.EMAIL, "primary"), Notify(Via.EMAIL, "secondary"))
    )
    await world.append(
        incident_id,
        PageRequested(notified=notified(recipients(level, world.policy.rotation))),
        PERSON,
    )
    mails = await world.sent_to(EMAIL)
    async with world.memory.transaction() as uow:
        seqs = [
            e.seq
            for e in await uow.timeline.for_incident(incident_id)
            if e.kind in (EventKind.ESCALATION_FIRED, EventKind.PAGE_REQUESTED)
        ]
    assert [m.call.ordering_key for m in mails] == [
        email_key(incident_id, seqs[0], primary.email),
        email_key(incident_id, seqs[1], primary.email),
        email_key(incident_id, seqs[2], primary.email),
        email_key(incident_id, seqs[2], "platform@example.com"),
    ]
    assert len({m.call.ordering_key for m in mails}) == 4


async def test_an_incident_pagerduty_opened_is_never_paged_but_still_emailed_and_mentioned(
    world: World, clock: FixedClock
) -> None:
    payload = incident_event("incident.triggered", clock.now(), incident_id="PD1", priority="P1")
    event = parse_pagerduty(am.body(payload))
    assert event is not None
    async with world.store.transaction() as uow:
        applied = await apply_pagerduty_event(
            uow, policy=world.policy, now=clock.now(), event=event
        )
    assert applied.opened is not None
    incident_id = applied.opened.id
    await world.fire(incident_id, Severity.P0, 0)  # would page the primary
    await world.fire(incident_id, Severity.P0, 1)  # emails the secondary
    await world.append(
        incident_id, page_by_hand(world.policy.rotation["primary"]), Actor("slack", "U0PAGER")
    )
    await updates.resolve(world.store, incident_id, actor=PERSON, at=clock.now())
    assert await world.sent_to(PAGERDUTY) == []
    assert [m.call.args["to"] for m in await world.sent_to(EMAIL)] == [["platform@example.com"]]
