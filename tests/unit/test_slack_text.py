"""Escaping, truncation and mentions of ``bot.integrations.slack.text``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadRequest
from bot.integrations.slack.text import (
    ELLIPSIS,
    TRUNCATED,
    date,
    escape,
    inert,
    mention,
    mrkdwn,
    plain,
    truncate,
    who,
)

# Every control sequence Slack parses starts with `<`; an escaped text has none left.
ATTACKS = ["<!channel>", "<@U123>", "<https://evil|Approve>", "<!subteam^S1>", "<#C1|x>"]
ENTITY = re.compile(r"&(amp|lt|gt);")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize("attack", ATTACKS)
def test_escape_makes_control_sequences_inert(attack: str) -> None:
    out = escape(f"label {attack} end")
    assert "<" not in out
    assert ">" not in out
    assert unescape(out) == f"label {attack} end"


def test_escape_encodes_ampersand_first_so_entities_are_not_double_decoded() -> None:
    # A sender writing "&lt;!channel&gt;" must see exactly that text, not a ping.
    assert escape("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_inert_defuses_bare_broadcast_words_but_keeps_them_readable() -> None:
    out = inert("ping @channel and @Here, mail a@everyone.com")
    assert "@channel" not in out
    assert "@Here" not in out
    assert out.replace("\u200b", "") == "ping @channel and @Here, mail a@everyone.com"
    assert inert("<@U1>") == "&lt;@U1&gt;"


def test_truncate_leaves_short_text_alone_and_marks_a_cut() -> None:
    assert truncate("short", 10) == "short"
    out = truncate("x" * 100, 30)
    assert len(out) == 30
    assert out.endswith(TRUNCATED)
    assert out.startswith("x" * (30 - len(TRUNCATED)))


def test_truncate_never_splits_an_entity() -> None:
    text = escape("a<" * 50)  # "a&lt;a&lt;..."
    for limit in range(len(TRUNCATED), 80):
        out = truncate(text, limit)
        body = out.removesuffix(TRUNCATED)
        assert len(out) <= limit
        # Every `&` left starts a whole entity.
        assert all(ENTITY.match(body, m.start()) for m in re.finditer("&", body))


def test_truncate_never_splits_a_trusted_control_sequence() -> None:
    text = "on call: " + mention("U0123ABCD") + " and more text after it"
    for limit in range(len(TRUNCATED), len(text)):
        out = truncate(text, limit).removesuffix(TRUNCATED)
        assert out.count("<") == out.count(">")


def test_truncate_with_a_marker_longer_than_the_limit_still_fits() -> None:
    assert len(truncate("x" * 20, 5)) == 5
    assert truncate("x" * 20, 0) == ""
    with pytest.raises(BadRequest):
        truncate("x", -1)


@given(st.text(max_size=400), st.integers(min_value=0, max_value=300))
def test_mrkdwn_never_leaves_a_raw_angle_bracket_and_stays_within_limit(
    text: str, limit: int
) -> None:
    out = mrkdwn(text, limit)
    assert "<" not in out
    assert ">" not in out
    assert len(out) <= limit
    body = out.removesuffix(TRUNCATED)
    assert all(ENTITY.match(body, m.start()) for m in re.finditer("&", body))
    if len(inert(text)) <= limit:
        assert out == inert(text)


@given(st.text(max_size=200), st.integers(min_value=1, max_value=150))
def test_plain_is_escaped_bounded_and_never_empty(text: str, limit: int) -> None:
    out = plain(text, limit)
    assert out
    assert "<" not in out
    assert len(out) <= max(limit, 1)
    if len(escape(text)) > limit:
        assert out.endswith(ELLIPSIS)


@pytest.mark.parametrize(
    ("slack_id", "expected"),
    [("U0123ABCD", "<@U0123ABCD>"), ("W012AB", "<@W012AB>"), ("S0G1", "<!subteam^S0G1>")],
)
def test_mention_formats_trusted_ids(slack_id: str, expected: str) -> None:
    assert mention(slack_id) == expected


@pytest.mark.parametrize(
    "bad", ["alice", "u123", "U1", "<@U123>", "U123|x", "C0123", "U123 ", "", "!channel"]
)
def test_mention_refuses_anything_but_an_id(bad: str) -> None:
    with pytest.raises(BadRequest):
        mention(bad)


def test_who_mentions_slack_actors_and_escapes_others() -> None:
    assert who("slack:U0123ABC") == "<@U0123ABC>"
    assert who("system:alertmanager") == "system:alertmanager"
    assert who("slack:<!channel>") == "slack:&lt;!channel&gt;"


def test_date_uses_slack_formatting_with_a_utc_fallback() -> None:
    at = datetime(2026, 11, 22, 10, 5, tzinfo=timezone(timedelta(hours=2)))
    out = date(at)
    expected_ts = int(datetime(2026, 11, 22, 8, 5, tzinfo=UTC).timestamp())
    assert out == f"<!date^{expected_ts}^{{date_short_pretty}} {{time}}|2026-11-22 08:05 UTC>"
