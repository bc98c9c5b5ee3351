"""A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, in the test's own event loop.

It records every message it accepts (envelope, parsed message, who logged in, whether the
connection was encrypted) and can refuse on demand: the next ``times`` RCPT or DATA
commands answered with a code such as 421 or 451 (temporary) or 550 (permanent), or one
mailbox refused for good. With ``tls="starttls"`` it offers STARTTLS, with ``tls="implicit"``
it speaks TLS from the first byte; both with a certificate for 127.0.0.1 from a trustme CA,
whose bundle ``ca_file`` a client trusts through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
Stage = Literal["RCPT", "DATA"]
Tls = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    user: str | None
    encrypted: bool


@dataclass
class _Refusal:
    stage: Stage
    reply: str
    times: int


@dataclass
class SmtpRecorder:
    """aiosmtpd's handler: keeps what arrives, answers the refusals queued with ``refuse``."""

    users: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused_mailboxes: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    _refusals: list[_Refusal] = field(default_factory=list)

    def refuse(self, code: int, text: str = "", *, times: int = 1, stage: Stage = "RCPT") -> None:
        """Answer the next ``times`` ``stage`` commands with ``code`` instead of accepting."""
        default = "Try again later" if code < 500 else "Mailbox unavailable"
        self._refusals.append(_Refusal(stage, f"{code} {text or default}", times))

    def refuse_mailbox(self, address: str, code: int = 550, text: str = "No such user") -> None:
        """Refuse ``address`` at RCPT for good; other recipients are still accepted."""
        self.refused_mailboxes[address] = f"{code} {text}"

    def _take(self, stage: Stage) -> str | None:
        for refusal in self._refusals:
            if refusal.stage == stage and refusal.times > 0:
                refusal.times -= 1
                return refusal.reply
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.attempts += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._take("RCPT") or self.refused_mailboxes.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self._take("DATA")
        if reply is not None:
            return reply
        # Line ends as a mail client shows them, not as they travel (CRLF).
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        user = session.auth_data if session.authenticated else None
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=parsed,
                user=str(user) if user is not None else None,
                encrypted=encrypted,
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator for AUTH PLAIN and LOGIN against ``users``."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        if self.users.get(login) != auth_data.password.decode():
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=login)


@dataclass(frozen=True)
class SmtpTestServer:
    """A running server: where it listens, what it recorded, the CA a client must trust."""

    port: int
    recorder: SmtpRecorder
    tls: Tls
    ca_file: Path | None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        """``FIREBREAK_SMTP_URL`` for this server (credentials percent-encoded)."""
        who = ""
        if user is not None:
            who = quote(user, safe="")
            if password is not None:
                who += ":" + quote(password, safe="")
            who += "@"
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        query = "?starttls=true" if self.tls == "starttls" else ""
        return f"{scheme}://{who}{HOST}:{self.port}{query}"


def _server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    certificate = ca.issue_cert(HOST, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = directory / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


@asynccontextmanager
async def smtp_server(
    directory: Path, *, tls: Tls = "none", users: dict[str, str] | None = None
) -> AsyncIterator[SmtpTestServer]:
    """Serve SMTP on 127.0.0.1 and a free port for the block; ``users`` enables AUTH PLAIN
    and LOGIN (optional for the client: the recorder notes who logged in)."""
    recorder = SmtpRecorder(users=dict(users or {}))
    context, ca_file = _server_context(directory) if tls != "none" else (None, None)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            recorder,
            hostname="smtp.test",
            tls_context=context if tls == "starttls" else None,
            authenticator=recorder.authenticate if users else None,
            # Loopback tests without TLS log in too; aiosmtpd asks for TLS first by default.
            auth_require_tls=False,
            loop=loop,
        )

    server = await loop.create_server(
        protocol, host=HOST, port=0, ssl=context if tls == "implicit" else None
    )
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield SmtpTestServer(port=port, recorder=recorder, tls=tls, ca_file=ca_file)
    finally:
        server.close()
        await server.wait_closed()
