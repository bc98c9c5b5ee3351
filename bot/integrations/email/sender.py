"""The outbox's sender for target ``email``: one message over SMTP with aiosmtplib, and what
the server's answer means for the row (``bot.ports.Sender``).

* ``SENT`` - the server accepted the message for at least one recipient. Recipients it
  refused while accepting others are kept on the row (``refused``): sending again would
  repeat the message to those who got it.
* ``RETRY`` - a 4xx reply anywhere (421 service not available, 451 try later, 452 storage),
  a connection refused or cut, a timeout.
* ``FAILED`` - a 5xx reply (550 mailbox unavailable, every recipient refused, 535 bad
  credentials, 554 rejected), a server without the STARTTLS or AUTH the URL asks for, and
  arguments that cannot make a safe message (no recipient, a bad address, a line break in
  the subject or an address), which never reach the server.

TLS (``smtps://`` or ``?starttls=true``) verifies the server's certificate against the system
trust store; behind a private CA, point ``SSL_CERT_FILE`` at a bundle that holds it (OpenSSL
reads it, as PagerDuty's client does). A certificate that fails verification is a
connection error (``RETRY``): once the operator fixes the bundle the row still goes out.

The connection is opened for each message: alerts are rare, and an idle pooled connection
would only be cut by the server. Each network step has a timeout and the whole send a
deadline, inside the outbox's lease (60 s by default) so no other replica takes the row over
while it is on the wire. A send cut off after the server took the message is sent again;
the Message-ID, the same on every attempt, lets mail systems drop the copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from email.message import EmailMessage

import aiosmtplib

from bot.clock import Clock
from bot.domain.incident import JSON
from bot.domain.outbox import OutboundCall, Outcome, SendResult
from bot.errors import ConfigError
from bot.integrations.email.message import (
    Email,
    InvalidEmail,
    build_message,
    parse_address,
    parse_args,
)
from bot.integrations.email.smtp_url import Security, SmtpServer
from bot.ports import Lease

log = logging.getLogger("firebreak.email")

METHOD = "send"
# Per network step (connect, each reply), and for the whole send.
TIMEOUT_S = 10.0
DEADLINE_S = 40.0
_MAX_ERROR = 300


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"[:_MAX_ERROR]


def _outcome(code: int) -> Outcome:
    """5xx is the server's final word; anything else (4xx, odd codes) may pass."""
    return Outcome.FAILED if 500 <= code <= 599 else Outcome.RETRY


class EmailSender:
    """Sends ``email`` rows through the SMTP server of ``FIREBREAK_SMTP_URL``."""

    configured = True

    def __init__(
        self,
        server: SmtpServer,
        *,
        from_address: str,
        clock: Clock,
        timeout: float = TIMEOUT_S,
        deadline: float = DEADLINE_S,
        local_hostname: str | None = None,
    ) -> None:
        try:
            self._from = parse_address(from_address, what="FIREBREAK_EMAIL_FROM")
        except InvalidEmail as exc:
            raise ConfigError(str(exc)) from exc
        self._server = server
        self._clock = clock
        self._timeout = timeout
        self._deadline = deadline
        # What the client says in EHLO; aiosmtplib's default asks the resolver for the FQDN.
        self._local_hostname = local_hostname or self._from.domain

    @property
    def server(self) -> SmtpServer:
        return self._server

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        if method != METHOD:
            return SendResult(Outcome.FAILED, method, error=f"unknown email method {method!r}")
        try:
            email = parse_args(args)
            message = build_message(self._from, email, at=self._clock.now())
        except InvalidEmail as exc:
            return SendResult(Outcome.FAILED, method, error=f"invalid email: {exc}")
        try:
            refused, reply = await self._deliver(email, message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return self._all_refused(exc)
        except aiosmtplib.SMTPResponseException as exc:
            return SendResult(_outcome(exc.code), method, error=_reply(exc.code, exc.message))
        except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
            return SendResult(Outcome.RETRY, method, error=f"timeout: {exc}"[:_MAX_ERROR])
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            return SendResult(Outcome.RETRY, method, error=f"connection: {exc}"[:_MAX_ERROR])
        except aiosmtplib.SMTPException as exc:
            # SMTPNotSupported and friends: the server lacks what the URL asks for (STARTTLS,
            # an AUTH mechanism, SMTPUTF8); sending again would meet the same server.
            return SendResult(Outcome.FAILED, method, error=f"smtp: {exc}"[:_MAX_ERROR])
        kept: JSON = {"message_id": str(message["Message-ID"]), "reply": reply[:_MAX_ERROR]}
        if refused:
            kept["refused"] = dict(refused)
            log.warning(
                "email %s: sent, but the server refused %s",
                kept["message_id"],
                ", ".join(f"{k} ({v})" for k, v in refused.items()),
            )
        return SendResult(Outcome.SENT, method, answer=kept, kept=kept)

    def skip(self, call: OutboundCall) -> str:
        return ""  # configured: the worker never skips an email

    async def _deliver(self, email: Email, message: EmailMessage) -> tuple[Mapping[str, str], str]:
        server = self._server
        async with asyncio.timeout(self._deadline):
            errors, reply = await aiosmtplib.send(
                message,
                sender=self._from.addr_spec,
                recipients=[a.addr_spec for a in email.to],
                hostname=server.host,
                port=server.port,
                username=server.user,
                password=server.password,
                use_tls=server.security is Security.TLS,
                # Explicit: plain smtp:// never upgrades on its own, smtp://…?starttls=true
                # refuses to go on without it.
                start_tls=server.security is Security.STARTTLS,
                timeout=self._timeout,
                local_hostname=self._local_hostname,
            )
        refused = {rcpt: _reply(r.code, r.message) for rcpt, r in errors.items()}
        return refused, reply

    def _all_refused(self, exc: aiosmtplib.SMTPRecipientsRefused) -> SendResult:
        # Nobody got it, so trying again duplicates nothing: worth it if any refusal was
        # temporary.
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {_reply(r.code, r.message)}" for r in exc.recipients)
        outcome = (
            Outcome.RETRY if any(_outcome(c) is Outcome.RETRY for c in codes) else Outcome.FAILED
        )
        return SendResult(outcome, METHOD, error=f"recipients refused: {detail}"[:_MAX_ERROR])
