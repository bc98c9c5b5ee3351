"""The outbox's pure parts: binds, saves, backoff, Retry-After, and the call builders."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.domain.outbox import (
    CARD_CHANNEL,
    CARD_TS,
    CHANNEL,
    MissingRef,
    OutboundCall,
    bind_args,
    extract_saves,
    incident_key,
    lookup,
    parse_retry_after,
)
from bot.integrations.slack import calls
from bot.integrations.slack.sender import summarize
from bot.workers import backoff_delay

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_bind_args_fills_refs_without_touching_the_call() -> None:
    call = calls.update_card(7, text="v2")
    args = bind_args(call, {CARD_CHANNEL: "C1", CARD_TS: "1.5", CHANNEL: "C9"})
    assert args == {"text": "v2", "channel": "C1", "ts": "1.5"}
    assert "channel" not in call.args


@pytest.mark.parametrize("refs", [{}, {CARD_CHANNEL: "C1"}, {CARD_CHANNEL: "C1", CARD_TS: ""}])
def test_bind_args_names_the_missing_ref(refs: dict[str, str]) -> None:
    with pytest.raises(MissingRef) as info:
        bind_args(calls.update_card(7, text="v2"), refs)
    assert info.value.name in (CARD_CHANNEL, CARD_TS)
    assert info.value.name not in {k for k, v in refs.items() if v}


def test_saves_follow_dotted_paths_and_report_missing_ones() -> None:
    answer = {"ok": True, "channel": {"id": "C1", "name": "inc"}, "ts": "1.2"}
    create = calls.create_channel(7, "inc")
    assert extract_saves(create, answer) == ({CHANNEL: "C1"}, [])
    assert extract_saves(create, {"ok": True, "channel": "C1"}) == ({}, ["channel.id"])
    card = calls.post_card(7, text="t")
    assert extract_saves(card, {"channel": "C1", "ts": "1.2"}) == (
        {CARD_CHANNEL: "C1", CARD_TS: "1.2"},
        [],
    )
    assert lookup(answer, "channel.name.more") is None
    assert lookup({"ts": 5}, "ts") is None, "only strings are refs"


def test_summarize_keeps_channel_and_ts_only() -> None:
    assert summarize({"channel": "C1", "ts": "1.2", "message": {"blocks": []}}) == {
        "channel": "C1",
        "ts": "1.2",
    }
    assert summarize({"channel": {"id": "C2"}}) == {"channel": "C2"}
    assert summarize({"ok": True}) == {}


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempts in range(1, 20):
        ceiling = min(60.0, 2.0 * 2 ** (attempts - 1))
        delay = backoff_delay(attempts, base=2.0, cap=60.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling
    delays = {backoff_delay(3, rng=rng) for _ in range(20)}
    assert len(delays) > 10, "jittered"
    assert backoff_delay(10_000, cap=5.0, rng=rng) <= 5.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("120", 120.0),  # slack_sdk 3.47's handler would read "1"
        ("-4", 0.0),
        ("999999", 3600.0),
        (None, 30.0),
        ("", 30.0),
        ("soon", 30.0),
        ("nan", 30.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


def test_incident_calls_share_one_key_and_chain_refs() -> None:
    flow = [
        calls.create_channel(7, "inc-7"),
        calls.set_topic(7, "topic"),
        calls.invite(7, ["U1", "U2"]),
        calls.post_card(7, text="card", blocks=[{"type": "divider"}]),
        calls.post_in_thread(7, text="note"),
        calls.update_card(7, text="card v2"),
    ]
    assert {c.ordering_key for c in flow} == {incident_key(7)}
    produced: set[str] = set()
    for call in flow:
        assert set(call.binds.values()) <= produced, f"{call.method} needs a ref made later"
        produced |= set(call.saves)
    assert flow[2].args == {"users": "U1,U2"}
    assert flow[3].args["blocks"] == [{"type": "divider"}]


def test_a_p2_card_goes_to_a_named_channel_without_binds() -> None:
    card = calls.post_card(9, text="card", channel="CTRIAGE")
    assert (card.args["channel"], dict(card.binds)) == ("CTRIAGE", {})
    assert set(card.saves) == {CARD_CHANNEL, CARD_TS}
    loose = calls.post_to_channel("CTRIAGE", text="hello")
    assert (loose.ordering_key, loose.incident_id) == ("channel:CTRIAGE", None)


def test_calls_refuse_refs_without_an_incident() -> None:
    with pytest.raises(ValueError, match="incident_id"):
        OutboundCall(ordering_key="k", method="chat.update", args={}, binds={"ts": CARD_TS})
    with pytest.raises(ValueError, match="ordering key"):
        OutboundCall(ordering_key="", method="chat.postMessage", args={})
