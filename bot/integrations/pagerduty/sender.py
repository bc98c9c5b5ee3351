"""The outbox's sender for target ``pagerduty``: one PagerDuty Events API v2 event, and what
its answer means for the row (``bot.ports.Sender``).

Rows (``bot.domain.outbox.PAGERDUTY``): methods ``trigger``, ``acknowledge`` and ``resolve``;
args ``dedup_key`` (required for all three: it is what makes a retried trigger harmless),
for a trigger ``summary``, ``source``, ``severity``, ``component``, ``group``, ``class``,
``custom_details`` and ``links``; and ``service``, a name in ``PAGERDUTY_ROUTING_KEYS`` (""
or absent: ``PAGERDUTY_ROUTING_KEY``).

The event goes through the ``pagerduty`` package's ``EventsApiV2Client`` (made to ask once,
``bot.integrations.pagerduty.clients``), posted as PagerDuty documents it, because the
package's ``trigger`` returns only the dedup key and the row keeps PagerDuty's message too.
The client is synchronous, so each call runs in a thread.

Answers are sorted into the outbox's four outcomes:

* ``SENT`` - 2xx (PagerDuty answers 202): the row keeps ``dedup_key``, ``status`` and
  ``message``.
* ``RATE_LIMITED`` - 429: ``trigger`` (or the method) waits ``Retry-After``, else 30 s.
* ``RETRY`` - 5xx, timeouts and connection errors (TLS refusals included), and a 2xx whose
  body is not PagerDuty's.
* ``FAILED`` - 400 and any other 4xx, with PagerDuty's own message and its ``errors``; an
  unknown service name or a row without a dedup key, before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pagerduty
from httpx2 import HTTPError, Response

from bot.clock import Clock
from bot.config import Settings
from bot.domain.incident import JSON
from bot.domain.outbox import OutboundCall, Outcome, SendResult, parse_retry_after
from bot.integrations.pagerduty.clients import (
    TIMEOUT_S,
    Answered,
    OneShotEventsClient,
    events_client,
)
from bot.ports import Lease

log = logging.getLogger("firebreak.pagerduty")

METHODS = frozenset({"trigger", "acknowledge", "resolve"})
ENQUEUE = "/v2/enqueue"
RATE_LIMIT_DEFAULT_S = 30.0
# Payload fields a trigger may carry besides the three required ones.
OPTIONAL_PAYLOAD = ("component", "group", "class", "custom_details")
ERROR_TEXT_MAX = 500


class PagerDutySender:
    """Sends outbox rows as PagerDuty events, one client per routing key."""

    configured = True

    def __init__(
        self,
        routing_key: str | None,
        *,
        events_url: str,
        clock: Clock,
        routing_keys: Mapping[str, str] | None = None,
        timeout: int = TIMEOUT_S,
    ) -> None:
        keys = dict(routing_keys or {})
        if routing_key:
            keys[""] = routing_key
        if not keys:
            raise ValueError("a PagerDuty sender needs a routing key")
        self._clients = {
            name: events_client(key, events_url, timeout=timeout) for name, key in keys.items()
        }
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock) -> PagerDutySender:
        """The sender of ``PAGERDUTY_ROUTING_KEY`` and ``PAGERDUTY_ROUTING_KEYS`` (at least
        one must be set), posting to ``PAGERDUTY_EVENTS_URL``."""
        default = settings.pagerduty_routing_key
        return cls(
            default.get_secret_value() if default is not None else None,
            events_url=settings.pagerduty_events_url,
            routing_keys=settings.routing_keys(),
            clock=clock,
        )

    @property
    def services(self) -> frozenset[str]:
        """The service names rows may name ("" is the default routing key, when set)."""
        return frozenset(self._clients)

    def close(self) -> None:
        """Close the clients' connection pools."""
        for client in self._clients.values():
            client.close()

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        if method not in METHODS:
            return SendResult(Outcome.FAILED, method, error=f"unknown PagerDuty method {method!r}")
        service = str(args.get("service") or "")
        client = self._clients.get(service)
        if client is None:
            error = (
                "PAGERDUTY_ROUTING_KEY is not set"
                if not service
                else f"unknown PagerDuty service {service!r}: not in PAGERDUTY_ROUTING_KEYS"
            )
            return SendResult(Outcome.FAILED, method, error=error)
        try:
            event = build_event(method, args)
        except ValueError as exc:
            return SendResult(Outcome.FAILED, method, error=str(exc))
        try:
            response = await asyncio.to_thread(_post, client, event)
        except (pagerduty.Error, HTTPError, OSError) as exc:
            cause = exc.__cause__ or exc
            return SendResult(Outcome.RETRY, method, error=f"connection: {cause!r}")
        return self._classify(method, response)

    def skip(self, call: OutboundCall) -> str:
        return ""  # configured: the worker never skips a PagerDuty row

    def _classify(self, method: str, response: Response) -> SendResult:
        status = response.status_code
        body = _body(response)
        if response.is_success:
            if not isinstance(body, dict) or not body.get("dedup_key"):
                return SendResult(
                    Outcome.RETRY,
                    method,
                    error=f"HTTP {status}: unexpected answer {_excerpt(response)}",
                )
            kept: JSON = {k: body[k] for k in ("dedup_key", "status", "message") if k in body}
            return SendResult(Outcome.SENT, method, answer=body, kept=kept)
        if status == 429:
            wait = parse_retry_after(
                response.headers.get("Retry-After"),
                now=self._clock.now(),
                default=RATE_LIMIT_DEFAULT_S,
            )
            return SendResult(Outcome.RATE_LIMITED, method, error="HTTP 429", retry_after=wait)
        if status >= 500:
            return SendResult(
                Outcome.RETRY, method, error=f"HTTP {status}: {_message(response, body)}"
            )
        return SendResult(
            Outcome.FAILED, method, error=f"HTTP {status}: {_message(response, body)}"
        )


def build_event(method: str, args: Mapping[str, Any]) -> JSON:
    """The Events API v2 event for a row (the routing key is added by the client); raises
    ``ValueError`` for a row PagerDuty could never accept."""
    dedup_key = args.get("dedup_key")
    if not isinstance(dedup_key, str) or not dedup_key:
        raise ValueError("a PagerDuty event needs a dedup_key")
    event: JSON = {"event_action": method, "dedup_key": dedup_key}
    if method != "trigger":
        return event
    payload: JSON = {
        "summary": str(args.get("summary") or ""),
        "source": str(args.get("source") or ""),
        "severity": str(args.get("severity") or ""),
    }
    for name in OPTIONAL_PAYLOAD:
        value = args.get(name)
        if value not in (None, "", {}):
            payload[name] = value
    event["payload"] = payload
    links = args.get("links")
    if links:
        event["links"] = links
    return event


def _post(client: OneShotEventsClient, event: JSON) -> Response:
    """One request (in a worker thread): the answer, whatever its status."""
    try:
        return client.post(ENQUEUE, json=event)
    except Answered as answered:
        return answered.response


def _body(response: Response) -> object:
    try:
        return response.json()
    except (json.JSONDecodeError, ValueError):
        return None


def _message(response: Response, body: object) -> str:
    """PagerDuty's own words: ``message`` and its ``errors`` (``"Event object is invalid:
    Length of 'routing_key' is incorrect (should be 32 characters)"``), else the body."""
    if isinstance(body, dict) and body.get("message"):
        text = str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            text += ": " + "; ".join(str(e) for e in errors)
        return text[:ERROR_TEXT_MAX]
    return _excerpt(response)


def _excerpt(response: Response) -> str:
    return response.text[:ERROR_TEXT_MAX] or response.reason_phrase
