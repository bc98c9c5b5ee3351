"""A file as an outbox row (``calls.upload_file``), read back by the sender
(``read_upload``), paced as a post into its channel, logged without Slack, and the one rule
for where its bytes may go (``allowed_upload_url``)."""

from __future__ import annotations

import base64
import logging

import pytest

from bot.domain.outbox import CARD_CHANNEL, Outcome, bind_args, channel_key, incident_key
from bot.integrations.slack import calls
from bot.integrations.slack.files import UPLOAD, UploadFailed, allowed_upload_url, read_upload
from bot.integrations.slack.log_sender import LogSender
from bot.integrations.slack.pacing import slack_pace

FAKE_BASE = "http://127.0.0.1:8765/api/"


def test_a_text_file_for_an_incident_goes_to_its_card_channel() -> None:
    call = calls.upload_file(
        42, filename="pm.md", title="Postmortem", content="# é\n", initial_comment="here"
    )
    assert (call.method, call.ordering_key, call.incident_id) == (UPLOAD, incident_key(42), 42)
    assert call.binds == {"channel_id": CARD_CHANNEL}
    args = bind_args(call, {CARD_CHANNEL: "C0INC"})
    upload = read_upload(args)
    assert (upload.filename, upload.title, upload.channel_id) == ("pm.md", "Postmortem", "C0INC")
    assert upload.data == "# é\n".encode()
    assert upload.initial_comment == "here"


def test_bytes_travel_as_base64_and_a_channel_can_be_named() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    call = calls.upload_file(
        None, filename="graph.png", title="p99", content=png, channel="C0TRIAGE", alt_text="p99"
    )
    assert call.ordering_key == channel_key("C0TRIAGE")
    assert call.binds == {}
    assert call.args["content_base64"] == base64.b64encode(png).decode()
    upload = read_upload(call.args)
    assert (upload.data, upload.alt_txt, upload.channel_id) == (png, "p99", "C0TRIAGE")
    with pytest.raises(ValueError, match="needs a channel"):
        calls.upload_file(None, filename="a", title="a", content="a")


@pytest.mark.parametrize(
    "args",
    [
        {"filename": "a.md", "channel_id": "C1"},
        {"filename": "a.md", "channel_id": "C1", "content": ""},
        {"filename": "", "channel_id": "C1", "content": "x"},
        {"filename": "a.md", "content": "x"},
        {"filename": "a.md", "channel_id": "C1", "content_base64": "not base64!"},
        {"filename": 3, "channel_id": "C1", "content": "x"},
    ],
)
def test_a_row_that_is_not_an_upload_fails_for_good(args: dict[str, object]) -> None:
    with pytest.raises(UploadFailed) as info:
        read_upload(args)
    assert info.value.outcome is Outcome.FAILED


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/upload/v1/ABC", True),
        ("https://FILES.slack.com:443/upload/v1/ABC", True),
        ("http://files.slack.com/upload/v1/ABC", False),
        ("https://files.slack.com:8443/upload/v1/ABC", False),
        ("https://files.slack.com.evil.example/upload", False),
        ("https://evil.example/?files.slack.com", False),
        ("https://user@files.slack.com@evil.example/", False),
        ("http://127.0.0.1:8765/upload/v1/ABC", True),
        ("http://127.0.0.1:8766/upload/v1/ABC", False),
        ("https://127.0.0.1:8765/upload/v1/ABC", False),
        ("http://localhost:8765/upload/v1/ABC", False),
        ("http://127.0.0.1:notaport/x", False),
        ("file:///etc/passwd", False),
        ("ftp://files.slack.com/x", False),
        ("", False),
    ],
)
def test_bytes_go_only_to_slacks_file_host_or_the_api_base(url: str, allowed: bool) -> None:
    assert allowed_upload_url(url, FAKE_BASE) is allowed


def test_slacks_own_api_base_allows_only_the_file_host() -> None:
    assert allowed_upload_url("https://files.slack.com/upload/v1/A", "https://slack.com/api/")
    assert not allowed_upload_url("https://slack.com/upload/v1/A", "https://www.slack.com/api/")


def test_a_file_takes_its_channels_posting_pace() -> None:
    pace = slack_pace(UPLOAD, {"channel_id": "C0INC", "filename": "a"})
    assert pace is not None
    assert (pace.key, pace.interval) == ("slack:post:C0INC", 1.0)
    assert slack_pace("chat.postMessage", {"channel": "C0INC"}) == pace


def test_without_slack_a_file_is_logged_by_name_and_size(
    caplog: pytest.LogCaptureFixture,
) -> None:
    doc = "# Postmortem\n" + "x" * 50_000
    call = calls.upload_file(
        7,
        filename="incident-7-postmortem.md",
        title="Postmortem of #7",
        content=doc,
        initial_comment="requested by <@U0A>",
    )
    with caplog.at_level(logging.INFO, logger="firebreak.slack"):
        LogSender().skip(call)
    (record,) = caplog.records
    message = record.getMessage()
    assert "incident 7: would upload incident-7-postmortem.md (50,013 bytes)" in message
    assert "to the card's channel: Postmortem of #7" in message
    assert "x" * 100 not in message
