"""Incident channel names (deterministic, Slack's character set, ≤ 80) and topics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.incident import Source
from bot.integrations.slack.channels import MAX_TOPIC, channel_name, channel_topic, slug
from tests.support.incidents import incident

SLACK_NAME = re.compile(r"[a-z0-9_-]{1,80}")


def test_name_from_date_id_and_alertname() -> None:
    assert channel_name(incident()) == "inc-20261122-0042-lnn-high-latency"


def test_declared_incident_uses_its_title() -> None:
    declared = incident(labels={}, title="Checkout is DOWN (again!)", id=7, source=Source.MANUAL)
    assert channel_name(declared) == "inc-20261122-0007-checkout-is-down-again"


def test_date_is_utc_even_for_a_local_time() -> None:
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert channel_name(incident(created_at=late)).startswith("inc-20261122-")


def test_big_ids_are_not_cut() -> None:
    assert channel_name(incident(id=123456)).startswith("inc-20261122-123456-")


def test_names_are_deterministic_and_attempts_differ() -> None:
    first = channel_name(incident())
    assert first == channel_name(incident())
    second = channel_name(incident(), attempt=1)
    assert second == first + "-2"
    assert channel_name(incident(), attempt=2) == first + "-3"


def test_long_title_is_cut_at_80_keeping_the_attempt_suffix() -> None:
    long = incident(labels={}, title="word " * 100)
    name = channel_name(long, attempt=4)
    assert len(name) <= 80
    assert name.endswith("-5")
    assert "--" not in name
    assert SLACK_NAME.fullmatch(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LNNHighLatency", "lnn-high-latency"),
        ("KubePodCrashLooping", "kube-pod-crash-looping"),
        ("Café déjà vu", "cafe-deja-vu"),
        ("日本語", ""),
        ("a__b  c", "a-b-c"),
        ("HTTP5xxRate", "http5xx-rate"),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_title_without_latin_letters_falls_back() -> None:
    assert channel_name(incident(labels={}, title="日本語")) == "inc-20261122-0042-incident"


@given(
    st.text(max_size=300),
    st.dictionaries(st.just("alertname"), st.text(max_size=100)),
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=1000),
)
def test_any_incident_gets_a_valid_name(
    title: str, labels: dict[str, str], ident: int, attempt: int
) -> None:
    name = channel_name(incident(title=title, labels=labels, id=ident), attempt=attempt)
    assert SLACK_NAME.fullmatch(name), name
    assert not name.endswith("-")
    assert "--" not in name
    assert name.startswith(f"inc-20261122-{ident:04d}")


def test_topic_is_escaped_and_bounded() -> None:
    topic = channel_topic(incident(title="<!channel> " + "x" * 1000, service="a&b"))
    assert len(topic) <= MAX_TOPIC
    assert "<" not in topic
    assert topic.startswith("P1 · triggered · a&amp;b · &lt;!channel&gt; x")
    assert topic.endswith(" · firebreak #42")
