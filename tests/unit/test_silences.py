"""``/incident silence`` and ``unsilence``: parsing, matchers, Alertmanager's wire format,
and the use case on the memory store against an in-memory Alertmanager."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import EventKind
from bot.domain.incident import Incident
from bot.domain.silence import Matcher, MatchOp, NewSilence, SilenceState
from bot.errors import BadRequest, UsageError
from bot.integrations.alertmanager.silences import matcher_of, silence_json, silence_of
from bot.integrations.slack.card import CardView, render_card
from bot.integrations.slack.directory import SlackDirectory
from bot.policy.model import Policy
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.ingest_alertmanager import apply_alert_group
from bot.services.incidents.silence import Silencer, SilenceRequest, SilenceResult
from bot.services.incidents.silence_requests import SilenceAsked
from bot.services.incidents.updates import resolve
from handlers.slack.command.commands import Silence, Unsilence
from handlers.slack.command.parse import USAGE, parse_command
from tests.fakes.memory.silences import MemorySilences
from tests.fakes.memory.store import MemoryStore
from tests.fakes.slack.directory import FakeDirectory
from tests.fakes.slack.testing import ALICE, BOB
from tests.support.payloads.alertmanager import alert, group, webhook

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
APPROVER = Actor("slack", ALICE)
RESPONDER = Actor("slack", BOB)
LATENCY = alert("LNNHighLatency", service="lnn-service", instance="lnn-0")
MEMORY = alert("LNNHighMemory", "warning", service="lnn-service", instance="lnn-0")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("silence", Silence()),
        ("silence 30m", Silence(timedelta(minutes=30))),
        ("silence 1h30m", Silence(timedelta(minutes=90))),
        ("silence 2d --broad", Silence(timedelta(days=2), broad=True)),
        (
            'silence --matcher service=lnn-service -m instance=~"lnn-.*" --matcher=pod!=x',
            Silence(
                None,
                (
                    Matcher("service", "lnn-service"),
                    Matcher("instance", "lnn-.*", MatchOp.REGEX),
                    Matcher("pod", "x", MatchOp.NOT_EQUAL),
                ),
            ),
        ),
        ("silence -m 'job=a b'", Silence(None, (Matcher("job", "a b"),))),
        ("unsilence", Unsilence()),
    ],
)
def test_silence_parses(text: str, command: object) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("silence forever", "`forever` is not a duration"),
        ("silence 1h 2h", "Give one duration"),
        ("silence --matcher", "`--matcher` needs a value"),
        ("silence --matcher service", "`service` is not a matcher"),
        ("silence --matcher 1x=y", "`1x=y` is not a matcher"),
        ("silence -m a=~(", "`(` is not a regular expression"),
        ("silence --wide", "Unknown option `--wide`"),
        ("unsilence 3", "It takes no arguments"),
    ],
)
def test_silence_refuses_what_it_cannot_read(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_command(text)
    assert problem in str(info.value)
    assert str(info.value).endswith(f"Usage: {USAGE[text.split()[0]]}")


def test_matchers_print_and_match_as_alertmanager_does() -> None:
    assert str(Matcher("a", 'say "hi" \\o/')) == 'a="say \\"hi\\" \\\\o/"'
    assert str(Matcher("a", "x.*", MatchOp.NOT_REGEX)) == 'a!~"x.*"'
    labels = {"service": "lnn-service"}
    assert Matcher("service", "lnn-.*", MatchOp.REGEX).matches(labels)
    assert not Matcher("service", "lnn", MatchOp.REGEX).matches(labels)  # anchored
    assert Matcher("pod", "", MatchOp.EQUAL).matches(labels)  # missing is empty
    assert Matcher("pod", "x", MatchOp.NOT_EQUAL).matches(labels)


def test_the_wire_format_is_alertmanagers_api_v2() -> None:
    posted = silence_json(
        NewSilence(
            matchers=(Matcher("service", "s"), Matcher("i", "x|y", MatchOp.NOT_REGEX)),
            starts_at=T0,
            ends_at=T0 + timedelta(hours=2),
            created_by="slack:U1",
            comment="firebreak incident #1: t",
        )
    )
    assert posted == {
        "matchers": [
            {"name": "service", "value": "s", "isRegex": False, "isEqual": True},
            {"name": "i", "value": "x|y", "isRegex": True, "isEqual": False},
        ],
        "startsAt": "2026-12-07T09:00:00Z",
        "endsAt": "2026-12-07T11:00:00Z",
        "createdBy": "slack:U1",
        "comment": "firebreak incident #1: t",
    }
    got: dict[str, Any] = {
        **posted,
        "id": "abc",
        "status": {"state": "active"},
        "endsAt": "2026-12-07T11:00:00.123456789Z",
        "updatedAt": "2026-12-07T09:00:00.5Z",
    }
    silence = silence_of(got)
    assert silence.id == "abc"
    assert silence.state is SilenceState.ACTIVE
    assert silence.matchers[1] == Matcher("i", "x|y", MatchOp.NOT_REGEX)
    assert silence.ends_at == datetime(2026, 12, 7, 11, 0, 0, 123456, tzinfo=UTC)
    # Versions before isEqual existed: an equality.
    assert matcher_of({"name": "a", "value": "b", "isRegex": False}) == Matcher("a", "b")


async def _setup(
    policy: Policy, *payload_alerts: dict[str, Any], held: tuple[dict[str, Any], ...] = ()
) -> tuple[MemoryStore, MemorySilences, Silencer]:
    store, clock = MemoryStore(), FixedClock(T0)
    async with store.transaction() as uow:
        await apply_alert_group(
            uow, policy=policy, now=T0, group=group(webhook("g1", list(payload_alerts)))
        )
    alertmanager = MemorySilences(clock)
    for a in (*payload_alerts, *held):
        alertmanager.alerts_held[a["fingerprint"]] = a["labels"]
    silencer = Silencer(
        store=store,
        silences=alertmanager,
        directory=SlackDirectory(FakeDirectory()),
        approvers=(ALICE,),
        clock=clock,
    )
    return store, alertmanager, silencer


async def _kinds(store: MemoryStore) -> list[tuple[str, dict[str, Any]]]:
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(1)
    return [(e.kind, dict(e.body)) for e in entries if e.kind.startswith("silence.")]


async def test_a_silence_matches_the_groups_common_labels_and_lands_on_the_timeline(
    policy: Policy,
) -> None:
    store, alertmanager, silencer = await _setup(policy, LATENCY, held=(MEMORY,))
    result = _made(
        await silencer.silence(1, SilenceRequest(duration=timedelta(minutes=30)), actor=RESPONDER)
    )

    made = alertmanager.silences[result.silence_id]
    assert [str(m) for m in made.matchers] == [
        'alertname="LNNHighLatency"',
        'instance="lnn-0"',
        'service="lnn-service"',
        'severity="critical"',
    ]
    assert made.created_by == f"slack:{BOB}"
    assert made.comment.startswith("firebreak incident #1: ")
    assert made.ends_at == T0 + timedelta(minutes=30)
    assert await _kinds(store) == [
        (
            EventKind.SILENCE_CREATED,
            {
                "silence_id": result.silence_id,
                "matchers": [str(m) for m in made.matchers],
                "ends_at": "2026-12-07T09:30:00Z",
                "by": f"slack:{BOB}",
                "broad": False,
            },
        )
    ]


async def test_matchers_that_reach_other_alerts_need_broad_and_an_approver(
    policy: Policy,
) -> None:
    store, alertmanager, silencer = await _setup(policy, LATENCY, held=(MEMORY,))
    wide = (Matcher("service", "lnn-service"),)

    with pytest.raises(BadRequest, match="also match 1 alert outside incident #1"):
        await silencer.silence(1, SilenceRequest(matchers=wide), actor=APPROVER)
    assert alertmanager.silences == {}
    # A refusal is on the timeline: who asked, which matchers, why.
    assert await _kinds(store) == [
        (
            EventKind.SILENCE_REFUSED,
            {
                "matchers": ['service="lnn-service"'],
                "by": f"slack:{ALICE}",
                "why": "these matchers also match 1 alert outside incident #1: "
                '{alertname="LNNHighMemory", instance="lnn-0", service="lnn-service", '
                'severity="warning"}. Narrow them with `--matcher label=value`, or add '
                "`--broad` to ask an approver for it",
            },
        )
    ]

    # An approver's own --broad makes it at once.
    result = _made(
        await silencer.silence(1, SilenceRequest(matchers=wide, broad=True), actor=APPROVER)
    )
    assert [a.labels["alertname"] for a in result.others] == ["LNNHighMemory"]
    assert result.broad
    assert result.approved_by is None
    assert (await _kinds(store))[-1][1]["broad"] is True


def _made(result: object) -> SilenceResult:
    assert isinstance(result, SilenceResult), result
    return result


@pytest.mark.parametrize(
    "matcher",
    [
        Matcher("alertname", ".+", MatchOp.REGEX),
        Matcher("instance", "lnn-9", MatchOp.NOT_EQUAL),
        Matcher("instance", "x|y", MatchOp.NOT_REGEX),
    ],
    ids=["regex", "negative", "negative-regex"],
)
async def test_a_regex_or_negative_matcher_is_broad_even_when_nothing_else_fires_now(
    policy: Policy, matcher: Matcher
) -> None:
    # Nothing but the incident's own alert fires: what matters is what the matcher will reach.
    store, alertmanager, silencer = await _setup(policy, LATENCY)
    wide = (Matcher("alertname", "LNNHighLatency"), matcher)
    with pytest.raises(BadRequest, match="can match alerts of other incidents as they fire"):
        await silencer.silence(1, SilenceRequest(matchers=wide), actor=RESPONDER)
    asked = await silencer.silence(1, SilenceRequest(matchers=wide, broad=True), actor=RESPONDER)
    assert isinstance(asked, SilenceAsked)
    assert asked.why == "regex and negative matchers reach alerts that fire later"
    assert alertmanager.silences == {}
    _made(await silencer.silence(1, SilenceRequest(matchers=wide, broad=True), actor=APPROVER))
    assert (await _kinds(store))[-1][1]["broad"] is True


async def test_unsilence_expires_what_is_active_and_records_what_had_ended(
    policy: Policy,
) -> None:
    store, alertmanager, silencer = await _setup(policy, LATENCY)
    first = _made(await silencer.silence(1, SilenceRequest(), actor=RESPONDER))
    second = _made(await silencer.silence(1, SilenceRequest(), actor=RESPONDER))
    alertmanager.end(first.silence_id, T0 + timedelta(minutes=5))

    done = await silencer.unsilence(1, actor=APPROVER)

    assert done.expired == (second.silence_id,)
    assert done.already_ended == (first.silence_id,)
    assert alertmanager.silences[second.silence_id].state is SilenceState.EXPIRED
    expired = [(b["silence_id"], b["ends_at"]) for k, b in await _kinds(store) if "expired" in k]
    assert expired == [
        (first.silence_id, "2026-12-07T09:05:00Z"),
        (second.silence_id, "2026-12-07T09:00:00Z"),
    ]
    with pytest.raises(BadRequest, match="has no silence of firebreak's"):
        await silencer.unsilence(1, actor=APPROVER)


async def test_refusals_without_alertmanager_labels_or_an_open_incident(policy: Policy) -> None:
    store, alertmanager, silencer = await _setup(policy, LATENCY)
    unset = Silencer(store, None, silencer.directory, (), silencer.clock)
    with pytest.raises(BadRequest, match="set ALERTMANAGER_URL"):
        await unset.silence(1, SilenceRequest(), actor=RESPONDER)
    with pytest.raises(BadRequest, match="at most 7 days"):
        await silencer.silence(1, SilenceRequest(duration=timedelta(days=8)), actor=RESPONDER)
    await resolve(store, 1, actor=RESPONDER, at=T0, reason="fixed")
    with pytest.raises(BadRequest, match="is resolved"):
        await silencer.silence(1, SilenceRequest(), actor=RESPONDER)
    assert alertmanager.silences == {}


async def test_the_incident_keeps_until_when_it_is_silenced_and_the_card_shows_it(
    policy: Policy,
) -> None:
    store, _, silencer = await _setup(policy, LATENCY)
    await silencer.silence(1, SilenceRequest(duration=timedelta(hours=3)), actor=RESPONDER)
    await silencer.silence(1, SilenceRequest(duration=timedelta(hours=1)), actor=RESPONDER)
    async with store.transaction() as uow:
        silenced = await uow.incidents.get(1)
    assert silenced is not None
    assert silenced.silenced_until == T0 + timedelta(hours=3)  # the later end of the two

    def fields(incident: Incident, now: datetime) -> str:
        view = CardView(incident=incident, alerts=(), scenario=None, commander=None, now=now)
        return json.dumps(render_card(view).blocks)

    assert "Silenced" in fields(silenced, T0)
    assert "2026-12-07 12:00 UTC" in fields(silenced, T0)
    assert "Silenced" not in fields(silenced, T0 + timedelta(hours=3))

    await silencer.unsilence(1, actor=RESPONDER)
    async with store.transaction() as uow:
        unsilenced = await uow.incidents.get(1)
    assert unsilenced is not None
    assert unsilenced.silenced_until is None
    assert "Silenced" not in fields(unsilenced, T0)


async def test_an_incident_without_alert_labels_needs_matchers(policy: Policy) -> None:
    store, alertmanager, silencer = await _setup(policy, LATENCY)
    declared = await declare_incident(
        store, policy, title="by hand", actor=RESPONDER, at=T0, service="lnn-service"
    )
    with pytest.raises(BadRequest, match="has no alert labels to silence by"):
        await silencer.silence(declared.id, SilenceRequest(), actor=RESPONDER)
    # Named matchers that match no other incident's alert silence at once.
    named = SilenceRequest(matchers=(Matcher("pod", "lnn-0-x"),))
    made = _made(await silencer.silence(declared.id, named, actor=RESPONDER))
    assert [str(m) for m in alertmanager.silences[made.silence_id].matchers] == ['pod="lnn-0-x"']
