"""Who is on call now, from PagerDuty's REST API v2 (``bot.ports.OnCallDirectory``).

``on_call(service)`` lists ``GET /oncalls`` (with ``include[]=users`` for the emails, and
``earliest=true``: one entry per escalation policy, level and user). A ``service`` names
either an escalation policy or a PagerDuty service, matched by name as PagerDuty's
``query`` search finds it, case-insensitively, the policy first; a service stands for its
escalation policy. A name that matches neither has nobody on call (an empty answer), as has
an instance without an API token (``configured`` is then false, and callers use the
policy's rotation). ``None`` lists everyone on call, in every escalation policy.

The ``pagerduty`` client is synchronous and asks once (``bot.integrations.pagerduty.clients``);
each lookup runs in a thread. Any failure, a refusal or an unreachable API, is an
``UpstreamError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pagerduty
from httpx2 import HTTPError, Response

from bot.config import Settings
from bot.domain.escalation import OnCall
from bot.errors import UpstreamError
from bot.integrations.pagerduty.clients import (
    TIMEOUT_S,
    Answered,
    OneShotRestClient,
    rest_client,
)

SOURCE = "pagerduty"
PAGE_SIZE = 100


class PagerDutyOnCall:
    """The on-call directory over PagerDuty's REST API, or nobody without a token."""

    def __init__(
        self,
        api_token: str | None,
        *,
        api_url: str,
        page_size: int = PAGE_SIZE,
        timeout: int = TIMEOUT_S,
    ) -> None:
        self._client = rest_client(api_token, api_url, timeout=timeout) if api_token else None
        self._page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> PagerDutyOnCall:
        """``PAGERDUTY_API_TOKEN`` against ``PAGERDUTY_API_URL``."""
        token = settings.pagerduty_api_token
        return cls(
            token.get_secret_value() if token is not None else None,
            api_url=settings.pagerduty_api_url,
        )

    @property
    def configured(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()

    async def on_call(self, service: str | None) -> Sequence[OnCall]:
        client = self._client
        if client is None:
            return ()
        try:
            return await asyncio.to_thread(self._lookup, client, service)
        except Answered as answered:
            response = answered.response
            raise UpstreamError(
                f"PagerDuty answered {response.status_code} to {response.request.method} "
                f"{response.request.url.path}: {_error_message(response)}"
            ) from answered
        except (pagerduty.Error, HTTPError, OSError, ValueError) as exc:
            cause = exc.__cause__ or exc
            raise UpstreamError(f"PagerDuty could not be asked who is on call: {cause!r}") from exc

    def _lookup(self, client: OneShotRestClient, service: str | None) -> list[OnCall]:
        params: dict[str, Any] = {"include": ["users"], "earliest": "true"}
        if service is not None:
            policy = _policy_id(client, service)
            if policy is None:
                return []
            params["escalation_policy_ids"] = [policy]
        found = [
            _on_call(entry)
            for entry in client.iter_all("oncalls", params=params, page_size=self._page_size)
        ]
        return sorted(found, key=lambda o: (o.level, o.name, o.schedule))


def _policy_id(client: OneShotRestClient, name: str) -> str | None:
    """The id of the escalation policy called ``name``, or of the one the service called
    ``name`` uses."""
    policy = client.find("escalation_policies", name)
    if policy is not None:
        return str(policy["id"])
    found = client.find("services", name)
    reference = found.get("escalation_policy") if found is not None else None
    if isinstance(reference, Mapping) and reference.get("id"):
        return str(reference["id"])
    return None


def _on_call(entry: Mapping[str, Any]) -> OnCall:
    user = entry.get("user") or {}
    schedule = entry.get("schedule") or {}
    end = entry.get("end")
    return OnCall(
        level=int(entry["escalation_level"]),
        name=str(user.get("summary") or user.get("name") or user.get("id") or "?"),
        source=SOURCE,
        email=str(user.get("email") or ""),
        schedule=str(schedule.get("summary") or ""),
        # A permanent on-call (no schedule) has no end.
        until=datetime.fromisoformat(end) if isinstance(end, str) and end else None,
    )


def _error_message(response: Response) -> str:
    """REST API errors are ``{"error": {"message", "code", "errors"}}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        details = error.get("errors")
        text = str(error["message"])
        if isinstance(details, list) and details:
            text += ": " + "; ".join(str(d) for d in details)
        return text[:500]
    return str(response.text)[:500] or str(response.reason_phrase)
