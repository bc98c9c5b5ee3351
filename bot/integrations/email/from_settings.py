"""The email sender the settings ask for: SMTP with ``FIREBREAK_SMTP_URL``, else log-only."""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.config import Settings
from bot.integrations.email.log_sender import EmailLogSender
from bot.integrations.email.sender import EmailSender
from bot.integrations.email.smtp_url import parse_smtp_url
from bot.ports import Sender

log = logging.getLogger("firebreak.email")


def email_sender(settings: Settings, clock: Clock) -> Sender:
    """``EmailSender`` for ``FIREBREAK_SMTP_URL`` (``ConfigError`` if it or
    ``FIREBREAK_EMAIL_FROM`` is invalid), else ``EmailLogSender``."""
    if settings.smtp_url is None or not settings.smtp_url.get_secret_value().strip():
        log.warning(
            "FIREBREAK_SMTP_URL is unset: emails are written to this log and marked unconfigured"
        )
        return EmailLogSender()
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    server = parse_smtp_url(
        settings.smtp_url.get_secret_value(), user=settings.smtp_user, password=password
    )
    log.info("email goes through %s as %s", server, settings.email_from)
    return EmailSender(server, from_address=settings.email_from, clock=clock)
