"""An email row's arguments: checked before any server is contacted, and built into the same
message (same Message-ID) on every attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.incident import JSON
from bot.integrations.email.message import (
    InvalidEmail,
    build_message,
    message_id,
    parse_address,
    parse_args,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
FROM = parse_address("Firebreak <firebreak@example.com>")
ARGS: JSON = {"to": ["oncall@example.com"], "subject": "[firebreak P2] #7 disk", "body": "hi"}


def test_a_message_carries_its_headers_and_a_utf8_body() -> None:
    args = {**ARGS, "subject": "Débit réduit – #7", "body": "Ça déborde ✓\nligne 2\n"}
    message = build_message(FROM, parse_args(args), at=T0)
    assert message["From"] == "Firebreak <firebreak@example.com>"
    assert message["To"] == "oncall@example.com"
    assert message["Subject"] == "Débit réduit – #7"
    assert message["Date"] == "Sun, 22 Nov 2026 10:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Ça déborde ✓\nligne 2\n"


def test_every_attempt_of_one_row_has_the_same_message_id() -> None:
    first = build_message(FROM, parse_args(ARGS), at=T0)
    later = build_message(FROM, parse_args(dict(ARGS)), at=T0 + timedelta(minutes=5))
    assert first["Message-ID"] == later["Message-ID"]
    assert str(first["Message-ID"]).endswith(".firebreak@example.com>")
    other = parse_args({**ARGS, "body": "another"})
    assert message_id(FROM, other) != first["Message-ID"]


def test_a_single_address_string_is_one_recipient_and_names_are_kept() -> None:
    email = parse_args({**ARGS, "to": "Ops Lead <lead@example.com>"})
    assert [a.addr_spec for a in email.to] == ["lead@example.com"]
    assert email.to[0].display_name == "Ops Lead"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"subject": "s", "body": "b"}, "no recipient"),
        ({**ARGS, "to": []}, "no recipient"),
        ({**ARGS, "to": [""]}, "empty"),
        ({**ARGS, "to": ["nobody"]}, "not an email address"),
        ({**ARGS, "to": ["a@"]}, "not an email address"),
        ({**ARGS, "to": ["a@example.com, b@example.com"]}, "not an email address"),
        ({**ARGS, "to": ["a@example.com\r\nBcc: all@example.com"]}, "line break"),
        ({**ARGS, "to": [7]}, "not text"),
        ({**ARGS, "subject": "hi\r\nBcc: all@example.com"}, "subject contains a line break"),
        ({**ARGS, "subject": "hi\nthere"}, "subject contains a line break"),
        ({**ARGS, "subject": ["x"]}, "subject is not text"),
        ({**ARGS, "body": {"x": 1}}, "body is not text"),
        ({**ARGS, "to": [f"u{i}@example.com" for i in range(101)]}, "too many"),
    ],
)
def test_unsafe_or_incomplete_arguments_are_refused(args: JSON, reason: str) -> None:
    with pytest.raises(InvalidEmail, match=reason):
        parse_args(args)
