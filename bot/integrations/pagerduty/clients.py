"""The ``pagerduty`` package's clients, made to ask once.

Both clients retry by themselves, sleeping in the calling thread: the Events API client on
500 and 502-504, every client on 429 without limit and on connection errors up to three
times. Firebreak does not want that: the outbox owns retrying (its schedule is stored, so a
restart keeps it, and the row's lease must outlast one send), and an on-call lookup answers
a person in Slack, who is better served by a quick "PagerDuty is unavailable" than by a
thread asleep for minutes.

So each request is made once: ``postprocess``, the hook the package calls on every response
*before* its retry logic (and documents for subclasses), hands any answer that is not a
success back to the caller as ``Answered``; ``max_network_attempts = 0`` makes the first
connection error final (the package then raises ``pagerduty.Error`` from it). Nothing
private is touched, and the base URL goes through the package's own ``https://`` check:
TLS is verified against the default trust store, or the file in ``SSL_CERT_FILE``, read when
the client is built.
"""

from __future__ import annotations

from httpx2 import Response
from pagerduty import EventsApiV2Client, RestApiV2Client, UrlError

from bot.errors import ConfigError

TIMEOUT_S = 30


class Answered(Exception):
    """PagerDuty answered with a status that is not a success; ``response`` is its answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class OneShotEventsClient(EventsApiV2Client):
    """``EventsApiV2Client`` that sends each event once (see the module's docstring)."""

    max_network_attempts = 0

    def postprocess(self, response: Response) -> None:
        super().postprocess(response)
        if not response.is_success:
            raise Answered(response)


class OneShotRestClient(RestApiV2Client):
    """``RestApiV2Client`` that makes each request once (see the module's docstring)."""

    max_network_attempts = 0

    def postprocess(self, response: Response, suffix: str | None = None) -> None:
        super().postprocess(response, suffix)
        if not response.is_success:
            raise Answered(response)


def events_client(
    routing_key: str, base_url: str, *, timeout: int = TIMEOUT_S
) -> OneShotEventsClient:
    """An Events API v2 client for one routing key (the key travels in each event's body)."""
    try:
        client = OneShotEventsClient(routing_key, base_url=base_url.rstrip("/"))
    except UrlError as exc:
        raise ConfigError(f"PAGERDUTY_EVENTS_URL must be an https:// URL: {base_url}") from exc
    client.timeout = timeout
    return client


def rest_client(api_token: str, base_url: str, *, timeout: int = TIMEOUT_S) -> OneShotRestClient:
    """A REST API v2 client authenticating with ``Authorization: Token token=…``."""
    try:
        client = OneShotRestClient(api_token, base_url=base_url.rstrip("/"))
    except UrlError as exc:
        raise ConfigError(f"PAGERDUTY_API_URL must be an https:// URL: {base_url}") from exc
    client.timeout = timeout
    return client
