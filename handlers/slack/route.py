"""``POST /slack/events``: the aiohttp side of the Bolt app (commands, buttons, events).

The route authenticates every request itself before Bolt sees it: Bolt parses the body when
its request object is built (a JSON content type with a body that is not JSON failed there,
before any signature check) and logs the body of every request it refuses. Only a request
Slack signed, whole and within the limits, reaches Bolt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.errors import AuthError, BadRequest
from handlers.body_reader import read_body
from handlers.json_depth import check_json_depth

# Slack never sends more than this; anything larger is not from Slack and is refused before
# it is read into memory.
SLACK_MAX_BODY = 1024 * 1024

# Slack's headers as documented: Unix seconds, and "v0=" with a hex SHA-256. Anything else
# is refused here, before slack_sdk's verifier (which calls int() on the timestamp) runs.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class SlackEndpoint:
    """The Bolt app and the verifier for its signing secret."""

    bolt: AsyncApp
    verifier: SignatureVerifier


SLACK = web.AppKey("slack", SlackEndpoint)


def mount_slack(app: web.Application, bolt: AsyncApp, signing_secret: str) -> None:
    """Serve ``bolt`` at ``/slack/events``, verifying requests with ``signing_secret``."""
    app[SLACK] = SlackEndpoint(bolt=bolt, verifier=SignatureVerifier(signing_secret))


def _signature_headers(request: web.Request) -> tuple[str, str]:
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        raise AuthError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise AuthError("X-Slack-Request-Timestamp is not a Unix time in seconds")
    if not _SIGNATURE.fullmatch(signature):
        raise AuthError("X-Slack-Signature is not a v0 signature")
    return timestamp, signature


def _check_depth(body: bytes, text: str, content_type: str) -> None:
    # The parts Bolt will hand to json.loads, chosen as its parse_body chooses them (on the
    # media type without parameters: "application/json; charset=utf-8" is JSON too).
    if content_type == "application/json" or text.startswith("{"):
        check_json_depth(body)
    elif "payload" in text:
        check_json_depth(dict(parse_qsl(text, keep_blank_values=True)).get("payload", ""))


async def slack_events(request: web.Request) -> web.StreamResponse:
    endpoint = request.app.get(SLACK)
    if endpoint is None:
        raise web.HTTPServiceUnavailable(
            text="Slack is not configured on this firebreak (set SLACK_SIGNING_SECRET)"
        )
    timestamp, signature = _signature_headers(request)
    body = await read_body(request, SLACK_MAX_BODY)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not UTF-8, so Slack did not send it") from exc
    if not endpoint.verifier.is_valid(text, timestamp, signature):
        raise AuthError("X-Slack-Signature does not match, or the request is over 5 minutes old")
    headers: dict[str, str | Sequence[str]] = {
        name.lower(): value for name, value in request.headers.items()
    }
    _check_depth(body, text, request.content_type)
    try:
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
    except (ValueError, TypeError, AttributeError, LookupError, RecursionError) as exc:
        # Signed, so from Slack, yet not a shape Bolt reads (e.g. a JSON array): it will
        # never succeed, so a 400 rather than a 5xx Slack would retry.
        raise BadRequest(f"a signed body Bolt cannot parse: {exc}") from exc
    return await to_aiohttp_response(await endpoint.bolt.async_dispatch(bolt_request))
