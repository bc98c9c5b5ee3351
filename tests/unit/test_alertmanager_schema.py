"""The Alertmanager v4 schema that intake checks and the processor parses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.errors import BadRequest
from handlers.alertmanager_schema import parse_alertmanager, validate_alertmanager


def payload(**alert: Any) -> bytes:
    one = {"status": "firing", "startsAt": "2026-11-22T10:00:00Z", **alert}
    return json.dumps(
        {"version": "4", "groupKey": "g", "status": "firing", "alerts": [one]}
    ).encode()


def test_nanoseconds_are_truncated_as_stored_episodes_always_were() -> None:
    # Alertmanager writes Go's RFC3339Nano; an episode's identity includes its start, so
    # the same text must always give the same microsecond (truncated, never rounded up).
    (alert,) = parse_alertmanager(payload(startsAt="2026-11-22T10:00:00.9999999Z")).alerts
    assert alert.starts_at == datetime(2026, 11, 22, 10, 0, 0, 999999, tzinfo=UTC)


def test_go_zero_time_means_no_end_and_offsets_become_utc() -> None:
    (alert,) = parse_alertmanager(
        payload(startsAt="2026-11-22T12:00:00+02:00", endsAt="0001-01-01T00:00:00Z")
    ).alerts
    assert alert.starts_at == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert alert.ends_at is None


def test_unknown_fields_are_accepted() -> None:
    body = json.loads(payload(newField={"x": 1}))
    body["futureField"] = [1, 2]
    assert validate_alertmanager(json.dumps(body).encode()).group_key == "g"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "body is not valid JSON"),
        (b"\xff", "body is not valid JSON"),
        (b"[]", "Expected `object`, got `array`"),
        (b'{"version": "4"}', "missing required field `groupKey`"),
        (payload(startsAt="yesterday"), "$.alerts[0].startsAt: not an RFC 3339 time"),
        (payload(labels={"a": 1}), "Expected `str`, got `int` - at `$.alerts[0].labels[...]`"),
        (payload(status="pending"), "$.alerts[0].status"),
        # Valid ISO 8601, but the offset puts the UTC time in year 10000 or year 0.
        (payload(startsAt="9999-12-31T23:00:00-14:00"), "$.alerts[0].startsAt: '9999-12-31T2"),
        (payload(startsAt="0001-01-01T00:00:00+14:00"), "$.alerts[0].startsAt: '0001-01-01T0"),
        (payload(endsAt="9999-12-31T20:00:00-05:00"), "$.alerts[0].endsAt: '9999-12-31T20"),
        (payload(startsAt="2026-11-22T10:00:00Z" + "0" * 10_000), "not an RFC 3339 time"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        validate_alertmanager(body)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 500  # the refused value is quoted, not all of it


def test_the_extremes_of_utc_are_accepted() -> None:
    (alert,) = parse_alertmanager(
        payload(startsAt="0001-01-01T00:00:00Z", endsAt="9999-12-31T23:59:59.999999Z")
    ).alerts
    assert alert.starts_at == datetime(1, 1, 1, tzinfo=UTC)
    assert alert.ends_at == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    # An offset that keeps the UTC time within range is fine.
    (alert,) = parse_alertmanager(payload(startsAt="9999-12-31T23:00:00+14:00")).alerts
    assert alert.starts_at == datetime(9999, 12, 31, 9, tzinfo=UTC)


def test_only_version_4() -> None:
    body = json.loads(payload())
    body["version"] = "3"
    with pytest.raises(BadRequest, match="unsupported Alertmanager webhook version '3'"):
        validate_alertmanager(json.dumps(body).encode())
