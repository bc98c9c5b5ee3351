"""The email sender against a real SMTP server (aiosmtpd) on loopback: what arrives, over
which protection, as whom, and what each refusal means for the row."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.clock import FixedClock
from bot.config import Settings
from bot.domain.incident import JSON
from bot.domain.outbox import EMAIL, OutboundCall, Outcome, email_key
from bot.errors import ConfigError
from bot.integrations.email.from_settings import email_sender
from bot.integrations.email.log_sender import REASON, EmailLogSender
from bot.integrations.email.sender import EmailSender
from bot.integrations.email.smtp_url import parse_smtp_url
from tests.support.smtp import SmtpTestServer, Stage, Tls, smtp_server

FROM = "Firebreak <firebreak@example.com>"
TO = "liquid-edge-oncall@company.com"
ARGS: JSON = {
    "to": [TO],
    "subject": "[firebreak P2] #12 Débit réduit",
    "body": "Incident #12 (P2): Débit réduit ✓\nTime left: 3h 59m\n\n/incident ack 12\n",
}


def sender_for(url: str, clock: FixedClock, **kwargs: str) -> EmailSender:
    return EmailSender(parse_smtp_url(url, **kwargs), from_address=FROM, clock=clock)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[SmtpTestServer]:
    async with smtp_server(tmp_path, users={"bot": "p@ss word"}) as running:
        yield running


async def test_the_message_arrives_with_its_headers_and_utf8_body(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    result = await sender_for(server.url(), clock).send("send", ARGS)
    assert result.outcome is Outcome.SENT, result.error
    [got] = server.received
    assert (got.mail_from, got.rcpt_tos) == ("firebreak@example.com", (TO,))
    assert got.message["From"] == FROM
    assert got.message["To"] == TO
    assert got.message["Subject"] == "[firebreak P2] #12 Débit réduit"
    assert got.message["Date"] == "Sun, 22 Nov 2026 10:00:00 +0000"
    assert got.message["Message-ID"] == result.kept["message_id"]
    assert got.message.get_content() == ARGS["body"]
    assert (got.user, got.encrypted) == (None, False)
    assert result.kept["reply"] == "Message accepted for delivery"


async def test_login_with_user_and_password_from_the_url(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    url = server.url(user="bot", password="p@ss word")
    result = await sender_for(url, clock).send("send", ARGS)
    assert result.outcome is Outcome.SENT, result.error
    assert [r.user for r in server.received] == ["bot"]


async def test_login_with_user_and_password_from_their_settings(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    settings = Settings(
        smtp_url=SecretStr(server.url()),
        smtp_user="bot",
        smtp_password=SecretStr("p@ss word"),
        email_from=FROM,
    )
    sender = email_sender(settings, clock)
    assert sender.configured
    result = await sender.send("send", ARGS)
    assert result.outcome is Outcome.SENT, result.error
    assert [r.user for r in server.received] == ["bot"]


async def test_a_wrong_password_fails_for_good_with_the_servers_reply(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    url = server.url(user="bot", password="wrong")
    result = await sender_for(url, clock).send("send", ARGS)
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("535")
    assert server.received == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_tls_per_the_url_trusting_a_private_ca_through_ssl_cert_file(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tls: Tls
) -> None:
    async with smtp_server(tmp_path, tls=tls, users={"bot": "pw"}) as tls_server:
        assert tls_server.ca_file is not None
        sender = sender_for(tls_server.url(user="bot", password="pw"), clock)
        # Without the CA the certificate is not trusted: nothing is sent in clear instead.
        untrusted = await sender.send("send", ARGS)
        assert untrusted.outcome is Outcome.RETRY
        assert "certificate" in untrusted.error.lower()
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
        result = await sender.send("send", ARGS)
        assert result.outcome is Outcome.SENT, result.error
        [got] = tls_server.received
        assert (got.user, got.encrypted) == ("bot", True)
        assert got.message.get_content() == ARGS["body"]


async def test_starttls_asked_of_a_server_without_it_fails_for_good(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    result = await sender_for(server.url() + "?starttls=true", clock).send("send", ARGS)
    assert result.outcome is Outcome.FAILED
    assert "STARTTLS" in result.error
    assert server.received == []


@pytest.mark.parametrize(
    ("code", "stage", "outcome"),
    [
        (421, "RCPT", Outcome.RETRY),
        (451, "RCPT", Outcome.RETRY),
        (452, "DATA", Outcome.RETRY),
        (550, "RCPT", Outcome.FAILED),
        (554, "DATA", Outcome.FAILED),
    ],
)
async def test_a_refusal_is_retried_when_temporary_and_failed_when_permanent(
    server: SmtpTestServer, clock: FixedClock, code: int, stage: Stage, outcome: Outcome
) -> None:
    server.recorder.refuse(code, "told by the test", stage=stage)
    result = await sender_for(server.url(), clock).send("send", ARGS)
    assert result.outcome is outcome
    assert str(code) in result.error
    assert "told by the test" in result.error
    assert server.received == []


async def test_a_refused_mailbox_among_accepted_ones_is_kept_on_the_row(
    server: SmtpTestServer, clock: FixedClock
) -> None:
    server.recorder.refuse_mailbox("gone@company.com")
    args = {**ARGS, "to": [TO, "gone@company.com"]}
    result = await sender_for(server.url(), clock).send("send", args)
    assert result.outcome is Outcome.SENT
    assert result.kept["refused"] == {"gone@company.com": "550 No such user"}
    assert [r.rcpt_tos for r in server.received] == [(TO,)]


async def test_a_closed_port_is_retried(clock: FixedClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await sender_for(f"smtp://127.0.0.1:{port}", clock).send("send", ARGS)
    assert result.outcome is Outcome.RETRY
    assert result.error.startswith("connection")


@pytest.mark.parametrize(
    ("timeout", "deadline"),
    [(0.2, 3600.0), (3600.0, 0.2)],  # the other bound would hang past pytest's timeout
    ids=["step-timeout", "whole-send-deadline"],
)
async def test_a_server_that_never_answers_is_retried(
    clock: FixedClock, timeout: float, deadline: float
) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    sender = EmailSender(
        parse_smtp_url(f"smtp://127.0.0.1:{port}"),
        from_address=FROM,
        clock=clock,
        timeout=timeout,
        deadline=deadline,
    )
    try:
        result = await sender.send("send", ARGS)
    finally:
        release.set()
        listener.close()
        await listener.wait_closed()
    assert result.outcome is Outcome.RETRY
    assert result.error.startswith("timeout")


@pytest.mark.parametrize(
    "args",
    [
        {"subject": "s", "body": "b"},
        {**ARGS, "to": ["not an address"]},
        {**ARGS, "to": [f"{TO}\r\nBcc: everyone@company.com"]},
        {**ARGS, "subject": "hi\r\nBcc: everyone@company.com"},
    ],
)
async def test_invalid_arguments_fail_without_contacting_the_server(
    server: SmtpTestServer, clock: FixedClock, args: JSON
) -> None:
    result = await sender_for(server.url(), clock).send("send", args)
    assert result.outcome is Outcome.FAILED
    assert result.error.startswith("invalid email")
    assert server.recorder.attempts == 0


async def test_an_unknown_method_fails(server: SmtpTestServer, clock: FixedClock) -> None:
    result = await sender_for(server.url(), clock).send("broadcast", ARGS)
    assert result.outcome is Outcome.FAILED
    assert server.recorder.attempts == 0


def test_an_invalid_from_address_stops_start_up(clock: FixedClock) -> None:
    settings = Settings(smtp_url=SecretStr("smtp://127.0.0.1:25"), email_from="firebreak")
    with pytest.raises(ConfigError, match="FIREBREAK_EMAIL_FROM"):
        email_sender(settings, clock)


def test_without_a_url_emails_are_logged_and_not_sent(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = email_sender(Settings(smtp_url=None), clock)
    assert isinstance(sender, EmailLogSender)
    assert not sender.configured
    call = OutboundCall(
        ordering_key=email_key(12, 1, TO), method="send", args=ARGS, incident_id=12, target=EMAIL
    )
    with caplog.at_level(logging.INFO, logger="firebreak.email"):
        assert sender.skip(call) == REASON == "email not configured"
    [record] = [r for r in caplog.records if "would email" in r.getMessage()]
    text = record.getMessage()
    assert f"incident 12: would email {TO}: [firebreak P2] #12 Débit réduit" in text
    assert "    | Time left: 3h 59m" in text
