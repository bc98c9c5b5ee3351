"""Settings: one frozen object built at start-up from the environment (and an optional
env file), then passed down. Nothing reads the environment at import time."""

from __future__ import annotations

import logging
import os
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.policy.file import DEFAULT_POLICY

log = logging.getLogger(__name__)

# Durations are named for their unit (issue 14). The old names are still read, the new one
# winning when both are set, and ``load_settings`` logs which to rename.
RENAMED = {
    "FIREBREAK_HEADER_TIMEOUT": "FIREBREAK_HEADER_TIMEOUT_SECONDS",
    "FIREBREAK_BODY_GRACE": "FIREBREAK_BODY_GRACE_SECONDS",
    "FIREBREAK_APPROVAL_TTL": "FIREBREAK_APPROVAL_TTL_SECONDS",
    "FIREBREAK_ROLLOUT_DEADLINE": "FIREBREAK_ROLLOUT_DEADLINE_SECONDS",
    "FIREBREAK_ROLLOUT_POLL": "FIREBREAK_ROLLOUT_POLL_SECONDS",
    "FIREBREAK_ACTION_LEASE": "FIREBREAK_ACTION_LEASE_SECONDS",
    "FIREBREAK_INBOX_RETRY_BASE": "FIREBREAK_INBOX_RETRY_BASE_SECONDS",
    "FIREBREAK_READY_MAX_INBOX_AGE": "FIREBREAK_READY_MAX_INBOX_AGE_SECONDS",
}
_OLD_NAME = {new: old for old, new in RENAMED.items()}


def _env(name: str) -> AliasChoices:
    names = [name, name.lower()]
    if name in _OLD_NAME:
        names += [_OLD_NAME[name], _OLD_NAME[name].lower()]
    return AliasChoices(*names)


_NOT_IN_LINKS = frozenset("<>|\"'`\\")
# An HTTP header name (RFC 9110's token), e.g. X-Forwarded-User.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every setting firebreak reads. Each maps to the environment variable in its alias."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, arbitrary_types_allowed=True
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./firebreak.db", validation_alias=_env("FIREBREAK_DATABASE_URL")
    )
    # A file named in the environment, else the policy shipped as package data.
    policy: Traversable = Field(DEFAULT_POLICY, validation_alias=_env("FIREBREAK_POLICY"))
    alertmanager_token: SecretStr | None = Field(
        None, validation_alias=_env("FIREBREAK_ALERTMANAGER_TOKEN")
    )
    api_token: SecretStr | None = Field(None, validation_alias=_env("FIREBREAK_API_TOKEN"))
    approvers: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("FIREBREAK_APPROVERS")
    )
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    slack_triage_channel: str = Field("", validation_alias=_env("SLACK_TRIAGE_CHANNEL"))
    pagerduty_webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), validation_alias=_env("PAGERDUTY_WEBHOOK_SECRETS")
    )
    pagerduty_routing_key: SecretStr | None = Field(
        None, validation_alias=_env("PAGERDUTY_ROUTING_KEY")
    )
    pagerduty_api_token: SecretStr | None = Field(
        None, validation_alias=_env("PAGERDUTY_API_TOKEN")
    )
    pagerduty_events_url: str = Field(
        "https://events.pagerduty.com", validation_alias=_env("PAGERDUTY_EVENTS_URL")
    )
    pagerduty_api_url: str = Field(
        "https://api.pagerduty.com", validation_alias=_env("PAGERDUTY_API_URL")
    )
    # More PagerDuty services a rotation member's page may go to, by name:
    # "lnn-service=KEY,platform=KEY2". A page to a member without one uses the routing key.
    pagerduty_routing_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), validation_alias=_env("PAGERDUTY_ROUTING_KEYS")
    )
    # Email (issue 16): smtp://host:port, smtps://host:port (TLS from the start) or
    # smtp://host:port?starttls=true; user and password in the URL or in their own settings.
    smtp_url: SecretStr | None = Field(None, validation_alias=_env("FIREBREAK_SMTP_URL"))
    smtp_user: str | None = Field(None, validation_alias=_env("FIREBREAK_SMTP_USER"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_env("FIREBREAK_SMTP_PASSWORD"))
    email_from: str = Field("firebreak@localhost", validation_alias=_env("FIREBREAK_EMAIL_FROM"))
    # Alertmanager's base URL for silences (issue 17): the one Alertmanager firebreak asks,
    # never a URL that arrived in a payload. Unset: /incident silence says so.
    alertmanager_url: str | None = Field(None, validation_alias=_env("ALERTMANAGER_URL"))
    # The Prometheus metric graphs are asked of (issue 18): the one firebreak queries, never
    # a URL from a payload (an alert's generatorURL only names the expression). Unset: no
    # graph, and the timeline says why.
    prometheus_url: str | None = Field(None, validation_alias=_env("FIREBREAK_PROMETHEUS_URL"))
    # Where people reach the bot: links in the card, pages, emails and Slack messages point
    # here (the incident's web page), and the web page's cookies are Secure unless it is
    # plain http on loopback.
    public_url: str = Field("http://127.0.0.1:8080", validation_alias=_env("FIREBREAK_PUBLIC_URL"))
    # The web page (issue 18): a request carrying this header (set by an SSO reverse proxy,
    # which must strip it from what clients send) is signed in as the user it names.
    # Unset: only the API token signs in.
    trusted_proxy_header: str | None = Field(
        None, validation_alias=_env("FIREBREAK_TRUSTED_PROXY_HEADER")
    )
    # How long a web page session lasts after signing in with the API token.
    ui_session_seconds: int = Field(
        43_200, gt=0, le=30 * 86_400, validation_alias=_env("FIREBREAK_UI_SESSION_SECONDS")
    )
    # How often the escalation worker looks for due timers when nothing woke it.
    escalation_poll_seconds: float = Field(
        5.0, gt=0, allow_inf_nan=False, validation_alias=_env("FIREBREAK_ESCALATION_POLL_SECONDS")
    )
    kubeconfig: Path | None = Field(None, validation_alias=_env("KUBECONFIG"))
    # Set by Kubernetes in every pod; with no KUBECONFIG it selects the in-cluster config.
    kubernetes_service_host: str | None = Field(
        None, validation_alias=_env("KUBERNETES_SERVICE_HOST")
    )
    # Largest webhook body accepted. Alert storms exceed aiohttp's 1 MiB default, and a 413
    # would make Alertmanager drop the notification for good.
    max_body_bytes: int = Field(32 * 1024 * 1024, validation_alias=_env("FIREBREAK_MAX_BODY"))

    # Slow clients (issue 13): a request head must arrive within this many seconds of its
    # first byte (of the accept, for a connection's first request), and a body at this many
    # bytes a second after a grace period; slower connections are closed and counted.
    header_timeout: float = Field(
        5.0, gt=0, allow_inf_nan=False, validation_alias=_env("FIREBREAK_HEADER_TIMEOUT_SECONDS")
    )
    body_min_rate: float = Field(
        1024.0, gt=0, allow_inf_nan=False, validation_alias=_env("FIREBREAK_BODY_MIN_RATE")
    )
    body_grace: float = Field(
        5.0, ge=0, allow_inf_nan=False, validation_alias=_env("FIREBREAK_BODY_GRACE_SECONDS")
    )

    # How long a replica owns an outbox row it is sending; after a crash the rows it held wait
    # this long before another worker (or the restarted one) sends them. Keep it longer than
    # one Slack call can take (the client's 30 s timeout). A row of several calls (a file:
    # three, each up to that timeout) may outlast it and be taken over while still running:
    # its sender renews the lease just before the call that takes effect (the file's
    # completion) and stops there if another worker holds the row, so it is shared once.
    outbox_lease_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("FIREBREAK_OUTBOX_LEASE_SECONDS")
    )
    outbox_poll_seconds: float = Field(
        1.0, gt=0, validation_alias=_env("FIREBREAK_OUTBOX_POLL_SECONDS")
    )
    # Live event streams (issue 18) one process serves at once; more are refused with 503.
    events_max_streams: int = Field(
        500, gt=0, le=100_000, validation_alias=_env("FIREBREAK_EVENTS_MAX_STREAMS")
    )
    # Remediation (issue 4): an approval request lapses after this many seconds, and so does
    # an approval not acted on in as long again; a rollout must finish within its deadline.
    approval_ttl: int = Field(600, gt=0, validation_alias=_env("FIREBREAK_APPROVAL_TTL_SECONDS"))
    rollout_deadline: int = Field(
        600, gt=0, validation_alias=_env("FIREBREAK_ROLLOUT_DEADLINE_SECONDS")
    )
    rollout_poll: float = Field(2.0, gt=0, validation_alias=_env("FIREBREAK_ROLLOUT_POLL_SECONDS"))
    # How long an executor holds a running action without renewing; after that, a restarted
    # replica may reconcile it.
    action_lease: int = Field(60, gt=0, validation_alias=_env("FIREBREAK_ACTION_LEASE_SECONDS"))
    # The Alertmanager inbox (issue 13): a delivery whose processing fails is retried after
    # INBOX_RETRY_BASE_SECONDS, doubling each time, and kept as failed after
    # INBOX_MAX_ATTEMPTS; /readyz reports "degraded" once the first-arrived pending delivery
    # has waited longer than READY_MAX_INBOX_AGE_SECONDS. The defaults give up on a poison
    # delivery within about two minutes, well inside the readiness bound.
    inbox_retry_base: float = Field(
        1.0, gt=0, le=300, validation_alias=_env("FIREBREAK_INBOX_RETRY_BASE_SECONDS")
    )
    inbox_max_attempts: int = Field(
        8, ge=1, le=100, validation_alias=_env("FIREBREAK_INBOX_MAX_ATTEMPTS")
    )
    ready_max_inbox_age: float = Field(
        300.0, gt=0, validation_alias=_env("FIREBREAK_READY_MAX_INBOX_AGE_SECONDS")
    )

    @field_validator(
        "approvers", "pagerduty_webhook_secrets", "pagerduty_routing_keys", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_path(cls, value: object) -> object:
        return Path(value) if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db, got "
                + value.split("://", 1)[0]
            )
        return value

    @field_validator("pagerduty_routing_keys")
    @classmethod
    def _named_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        # A bare key (no name) would be dropped and paging would quietly count as off.
        for index, item in enumerate(value, 1):
            name, sep, key = item.get_secret_value().partition("=")
            if not sep or not name.strip() or not key.strip():
                raise ValueError(
                    f"item {index} is not NAME=KEY (write service=ROUTING_KEY, comma-separated;"
                    " the default key goes in PAGERDUTY_ROUTING_KEY)"
                )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("FIREBREAK_PUBLIC_URL must be an http:// or https:// URL")
        # It is pasted into links (Slack's <url|label>, HTML attributes, plain-text email).
        if any(char.isspace() or char in _NOT_IN_LINKS for char in value):
            raise ValueError("FIREBREAK_PUBLIC_URL must not hold spaces, quotes, <, > or |")
        return value.rstrip("/")

    @field_validator("trusted_proxy_header")
    @classmethod
    def _proxy_header(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _HEADER_NAME.fullmatch(value.strip()):
            raise ValueError("FIREBREAK_TRUSTED_PROXY_HEADER must be a header name")
        return value.strip()

    @field_validator("alertmanager_url")
    @classmethod
    def _alertmanager_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("ALERTMANAGER_URL must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("FIREBREAK_PROMETHEUS_URL must be an http:// or https:// URL")
        return value.strip().rstrip("/")

    def routing_keys(self) -> dict[str, str]:
        """``PAGERDUTY_ROUTING_KEYS`` as service name → routing key."""
        keys: dict[str, str] = {}
        for item in self.pagerduty_routing_keys:
            name, _, key = item.get_secret_value().partition("=")
            keys[name.strip()] = key.strip()
        return keys

    @property
    def paging_configured(self) -> bool:
        """A routing key is set: ``PAGERDUTY_ROUTING_KEY`` or a named one."""
        return self.pagerduty_routing_key is not None or bool(self.pagerduty_routing_keys)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env_file: str | Path | None = None) -> Settings:
    """Build the settings once; ``ConfigError`` names every invalid variable."""
    from pydantic import ValidationError

    try:
        settings = Settings(_env_file=env_file)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid settings: " + "; ".join(lines)) from exc
    for old in deprecated_names(env_file):
        log.warning("setting %s is deprecated: rename it to %s", old, RENAMED[old])
    return settings


def deprecated_names(env_file: str | Path | None = None) -> list[str]:
    """The old setting names set in the environment or in ``env_file``, sorted."""
    from dotenv import dotenv_values

    present = {name.upper() for name in os.environ}
    if env_file is not None:
        present |= {name.upper() for name in dotenv_values(env_file)}
    return sorted(old for old in RENAMED if old in present)
