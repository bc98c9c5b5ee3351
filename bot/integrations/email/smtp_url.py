"""``FIREBREAK_SMTP_URL`` read into the server the email sender talks to.

Forms: ``smtp://host:port`` (plain SMTP, e.g. a relay on loopback or inside the cluster),
``smtp://host:port?starttls=true`` (plain, then upgraded with STARTTLS before anything else is
said) and ``smtps://host:port`` (TLS from the first byte). Without a port: 25, 587 with
STARTTLS, 465 for ``smtps``. A user and password may sit in the URL (percent-encoded) or in
``FIREBREAK_SMTP_USER`` / ``FIREBREAK_SMTP_PASSWORD``; giving one in both places with
different values is an error rather than a silent choice, and so is a login over plain SMTP to
anything but loopback (the password would cross the network in clear).

Errors are ``ConfigError``s that name the problem and never repeat the URL: it may hold the
password.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.errors import ConfigError

SETTING = "FIREBREAK_SMTP_URL"
_ENCODE_HINT = "percent-encode any of @ : / ? # in the user or password"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class Security(enum.StrEnum):
    """How the connection is protected: not at all, upgraded with STARTTLS, or TLS at once."""

    PLAIN = "plain"
    STARTTLS = "starttls"
    TLS = "tls"


DEFAULT_PORTS = {Security.PLAIN: 25, Security.STARTTLS: 587, Security.TLS: 465}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send mail. The password stays out of ``repr`` and ``str``."""

    host: str
    port: int
    security: Security = Security.PLAIN
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        scheme = "smtps" if self.security is Security.TLS else "smtp"
        who = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=true" if self.security is Security.STARTTLS else ""
        return f"{scheme}://{who}{host}:{self.port}{query}"


def parse_smtp_url(url: str, *, user: str | None = None, password: str | None = None) -> SmtpServer:
    """Read ``url`` (``FIREBREAK_SMTP_URL``); ``user`` and ``password`` are the separate
    settings, used where the URL has none. Raises ``ConfigError`` naming what is wrong."""
    text = url.strip()
    scheme, sep, _ = text.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise ConfigError(f"{SETTING} must look like smtp://host:port or smtps://host:port")
    scheme = scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ConfigError(f"{SETTING} must start with smtp:// or smtps://, not {scheme}://")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        # urllib's message may quote the netloc, which holds the password: say it ourselves.
        raise ConfigError(
            f"{SETTING} has an unreadable host or port (a port is a number from 1 to 65535; "
            f"{_ENCODE_HINT})"
        ) from exc
    if not host:
        raise ConfigError(f"{SETTING} names no host ({_ENCODE_HINT})")
    if port == 0:
        raise ConfigError(f"{SETTING}: the port must be a number from 1 to 65535")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"{SETTING} must not have a path or a fragment ({_ENCODE_HINT})")
    security = _security(scheme, parts.query)
    url_user = unquote(parts.username) if parts.username else None
    url_password = unquote(parts.password) if parts.password else None
    final_user = _one("user", url_user, user, "FIREBREAK_SMTP_USER", show=True)
    final_password = _one("password", url_password, password, "FIREBREAK_SMTP_PASSWORD")
    if final_password is not None and final_user is None:
        raise ConfigError(
            f"an SMTP password is set but no user: put the user in {SETTING} or set "
            "FIREBREAK_SMTP_USER"
        )
    if final_user is not None and final_password is None:
        raise ConfigError(
            f"an SMTP user is set but no password: put it in {SETTING} or set "
            "FIREBREAK_SMTP_PASSWORD"
        )
    if final_user is not None and security is Security.PLAIN and not _loopback(host):
        # A login over plain SMTP sends the password in clear to another machine.
        raise ConfigError(
            f"{SETTING} logs in over plain SMTP to {host}: the password would cross the "
            "network in clear. Use smtps://… or smtp://…?starttls=true (plain SMTP with a "
            "login is allowed only on loopback)"
        )
    return SmtpServer(
        host=host,
        port=port if port is not None else DEFAULT_PORTS[security],
        security=security,
        user=final_user,
        password=final_password,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _security(scheme: str, query: str) -> Security:
    starttls = False
    seen: set[str] = set()
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "starttls":
            raise ConfigError(f"{SETTING}: unknown option {key[:40]!r} (only starttls=true)")
        if key in seen:
            raise ConfigError(f"{SETTING}: starttls is given twice")
        seen.add(key)
        flag = value.strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ConfigError(f"{SETTING}: starttls must be true or false, not {value[:20]!r}")
        starttls = flag in _TRUE
    if scheme == "smtps":
        if starttls:
            raise ConfigError(
                f"{SETTING}: smtps:// is TLS from the start; drop ?starttls=true, or use "
                "smtp://…?starttls=true to upgrade a plain connection"
            )
        return Security.TLS
    return Security.STARTTLS if starttls else Security.PLAIN


def _one(
    what: str, in_url: str | None, setting: str | None, name: str, *, show: bool = False
) -> str | None:
    """The value from the URL or from its own setting; both, only when they agree."""
    setting = setting or None
    if in_url is not None and setting is not None and in_url != setting:
        detail = f" ({in_url!r} and {setting!r})" if show else ""
        raise ConfigError(
            f"the SMTP {what} is given both in {SETTING} and in {name}{detail}: keep one"
        )
    return in_url if in_url is not None else setting
