"""Broad silence requests (a non-approver's ``--broad``: an approver approves or denies it,
it lapses after the approval TTL) and refused silences on the timeline, on the memory store
against an in-memory Alertmanager; and the request's thread message with its buttons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.controls import Control
from bot.domain.silence import Matcher
from bot.errors import BadRequest, Conflict, Forbidden, UpstreamError
from bot.integrations.slack.directory import SlackDirectory
from bot.integrations.slack.silence_requests import silence_request_calls
from bot.policy.model import Policy
from bot.services.incidents.ingest_alertmanager import apply_alert_group
from bot.services.incidents.silence import Silencer, SilenceRequest, SilenceResult
from bot.services.incidents.silence_requests import SilenceAsked
from tests.fakes.memory.silences import MemorySilences
from tests.fakes.memory.store import MemoryStore
from tests.fakes.slack.directory import FakeDirectory
from tests.fakes.slack.testing import ALICE, BOB, CAROL
from tests.support.payloads.alertmanager import alert, group, webhook

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
APPROVER = Actor("slack", ALICE)
ASKER = Actor("slack", BOB)
OTHER = Actor("slack", CAROL)
LATENCY = alert("LNNHighLatency", service="lnn-service", instance="lnn-0")
MEMORY = alert("LNNHighMemory", "warning", service="lnn-service", instance="lnn-0")
WIDE = SilenceRequest(matchers=(Matcher("service", "lnn-service"),), broad=True)
TTL = 600


async def _setup(policy: Policy) -> tuple[MemoryStore, MemorySilences, Silencer, FixedClock]:
    store, clock = MemoryStore(), FixedClock(T0)
    async with store.transaction() as uow:
        await apply_alert_group(uow, policy=policy, now=T0, group=group(webhook("g1", [LATENCY])))
    alertmanager = MemorySilences(clock)
    for a in (LATENCY, MEMORY):
        alertmanager.alerts_held[a["fingerprint"]] = a["labels"]
    silencer = Silencer(
        store=store,
        silences=alertmanager,
        directory=SlackDirectory(FakeDirectory()),
        approvers=(ALICE,),
        clock=clock,
        approval_ttl=TTL,
    )
    return store, alertmanager, silencer, clock


async def _silence_entries(store: MemoryStore) -> list[tuple[str, str, dict[str, Any]]]:
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(1)
    return [(e.kind, str(e.actor), dict(e.body)) for e in entries if e.kind.startswith("silence.")]


async def _ask(silencer: Silencer) -> SilenceAsked:
    asked = await silencer.silence(1, WIDE, actor=ASKER)
    assert isinstance(asked, SilenceAsked), asked
    return asked


async def test_a_non_approvers_broad_silence_waits_for_an_approver_and_is_made_on_approval(
    policy: Policy,
) -> None:
    store, alertmanager, silencer, _ = await _setup(policy)
    asked = await _ask(silencer)
    assert alertmanager.silences == {}  # nothing silenced before an approver says so
    assert asked.expires_at == T0 + timedelta(seconds=TTL)
    [(kind, actor, body)] = await _silence_entries(store)
    assert (kind, actor) == ("silence.requested", f"slack:{BOB}")
    assert body["matchers"] == ['service="lnn-service"']
    assert body["seconds"] == 7200
    assert body["expires_at"] == "2026-12-07T09:10:00Z"
    assert "1 alert outside incident #1" in body["why"]

    with pytest.raises(Forbidden, match="another approver must approve it"):
        await silencer.approve(1, asked.request, actor=ASKER)
    with pytest.raises(Forbidden, match="only an approver may approve"):
        await silencer.approve(1, asked.request, actor=OTHER)
    assert alertmanager.silences == {}

    made = await silencer.approve(1, asked.request, actor=APPROVER)
    assert isinstance(made, SilenceResult)
    held = alertmanager.silences[made.silence_id]
    assert held.created_by == f"slack:{BOB}"  # the person who asked
    assert held.comment.endswith(f"(broad; approved by slack:{ALICE})")
    assert [str(m) for m in held.matchers] == ['service="lnn-service"']
    assert held.ends_at == T0 + timedelta(hours=2)

    # A second approval finds it decided: still one silence.
    with pytest.raises(Conflict, match="was approved already"):
        await silencer.approve(1, asked.request, actor=APPROVER)
    assert len(alertmanager.silences) == 1

    entries = await _silence_entries(store)
    assert [(k, a) for k, a, _ in entries] == [
        ("silence.requested", f"slack:{BOB}"),
        ("silence.refused", f"slack:{BOB}"),
        ("silence.refused", f"slack:{CAROL}"),
        ("silence.approved", f"slack:{ALICE}"),
        ("silence.created", f"slack:{ALICE}"),
    ]
    assert entries[1][2]["request"] == asked.request
    created = entries[-1][2]
    assert created["by"] == f"slack:{BOB}"
    assert created["approved_by"] == f"slack:{ALICE}"
    assert created["request"] == asked.request
    assert created["broad"] is True
    async with store.transaction() as uow:
        incident = await uow.incidents.get(1)
    assert incident is not None
    assert incident.silenced_until == T0 + timedelta(hours=2)


async def test_a_request_is_denied_by_an_approver_or_withdrawn_by_whoever_asked(
    policy: Policy,
) -> None:
    store, alertmanager, silencer, _ = await _setup(policy)
    first = await _ask(silencer)
    with pytest.raises(Forbidden, match="only an approver, or whoever asked"):
        await silencer.deny(1, first.request, actor=OTHER)
    await silencer.deny(1, first.request, actor=APPROVER)
    with pytest.raises(Conflict, match="was denied already"):
        await silencer.approve(1, first.request, actor=APPROVER)

    second = await _ask(silencer)
    await silencer.deny(1, second.request, actor=ASKER)
    assert alertmanager.silences == {}
    decisions = [
        (a, b["request"], b["reason"])
        for k, a, b in await _silence_entries(store)
        if k == "silence.denied"
    ]
    assert decisions == [
        (f"slack:{ALICE}", first.request, ""),
        (f"slack:{BOB}", second.request, "withdrawn by whoever asked"),
    ]


async def test_a_request_nobody_approved_within_the_ttl_lapses(policy: Policy) -> None:
    store, alertmanager, silencer, clock = await _setup(policy)
    asked = await _ask(silencer)
    clock.advance(TTL)
    with pytest.raises(Conflict, match="lapsed: nobody approved it by 2026-12-07T09:10:00Z"):
        await silencer.approve(1, asked.request, actor=APPROVER)
    assert alertmanager.silences == {}
    kind, actor, body = (await _silence_entries(store))[-1]
    assert (kind, actor, body["request"]) == (
        "silence.request_expired",
        "bot:firebreak",
        asked.request,
    )
    with pytest.raises(Conflict, match="was lapsed already"):
        await silencer.approve(1, asked.request, actor=APPROVER)


async def test_alertmanager_refusing_or_unreachable_is_on_the_timeline(policy: Policy) -> None:
    store, alertmanager, silencer, _ = await _setup(policy)
    asked = await _ask(silencer)
    alertmanager.down = True
    with pytest.raises(UpstreamError, match="connection refused"):
        await silencer.silence(1, SilenceRequest(), actor=ASKER)
    with pytest.raises(UpstreamError):
        await silencer.approve(1, asked.request, actor=APPROVER)
    refused = [(a, b) for k, a, b in await _silence_entries(store) if k == "silence.refused"]
    assert [a for a, _ in refused] == [f"slack:{BOB}", f"slack:{ALICE}"]
    # Without --matcher, the refusal names the group's common labels it would have used.
    assert 'alertname="LNNHighLatency"' in refused[0][1]["matchers"]
    assert "connection refused" in refused[0][1]["why"]
    assert "request" not in refused[0][1]
    assert refused[1][1]["request"] == asked.request
    assert refused[1][1]["why"].startswith("approved, but Alertmanager did not make it")

    alertmanager.down = False
    with pytest.raises(BadRequest, match="at most 7 days"):
        await silencer.silence(1, SilenceRequest(duration=timedelta(days=8)), actor=ASKER)
    kind, _, body = (await _silence_entries(store))[-1]
    assert (kind, body["why"]) == (
        "silence.refused",
        "a silence lasts more than 0 seconds and at most 7 days",
    )


def _buttons(call_args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for block in call_args.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found[element["text"]["text"]] = element
    return found


async def test_the_request_is_a_thread_message_with_approve_and_deny_until_decided(
    policy: Policy,
) -> None:
    store, _, silencer, _ = await _setup(policy)
    asked = await _ask(silencer)
    async with store.transaction() as uow:
        entries = list(await uow.timeline.for_incident(1))
        [posted] = await silence_request_calls(uow, 1, entries[-1:], now=T0)
    assert posted.method == "chat.postMessage"
    assert posted.saves == {f"silence_request_{asked.request}_ts": "ts"}
    buttons = _buttons(posted.args)
    assert set(buttons) == {"Approve", "Deny"}
    assert buttons["Approve"]["action_id"] == Control.APPROVE_SILENCE
    assert buttons["Deny"]["action_id"] == Control.DENY_SILENCE
    assert json.loads(buttons["Approve"]["value"]) == {
        "incident": 1,
        "silence_request": asked.request,
    }
    assert f"<@{BOB}> asks for a broad silence" in json.dumps(posted.args["blocks"])

    # A refused click leaves the message as it is; the approval and its silence update it.
    with pytest.raises(Forbidden):
        await silencer.approve(1, asked.request, actor=OTHER)
    async with store.transaction() as uow:
        refused = list(await uow.timeline.for_incident(1))[len(entries) :]
        assert await silence_request_calls(uow, 1, refused, now=T0) == []
    await silencer.approve(1, asked.request, actor=APPROVER)
    async with store.transaction() as uow:
        later = list(await uow.timeline.for_incident(1))[len(entries) + 1 :]
        [updated] = await silence_request_calls(uow, 1, later, now=T0)
    assert updated.method == "chat.update"
    assert updated.binds == {"channel": "card_channel", "ts": f"silence_request_{asked.request}_ts"}
    assert _buttons(updated.args) == {}
    assert f"approved by <@{ALICE}>" in json.dumps(updated.args["blocks"])
