"""Signed requests from "Slack" to a Bolt app, for tests that drive listeners in-process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier


def signed_form_request(
    signing_secret: str, fields: Mapping[str, str], *, timestamp: int | None = None
) -> AsyncBoltRequest:
    """A form-encoded request (slash command style) signed as Slack signs it (v0, HMAC-SHA256)."""
    body = urlencode(dict(fields))
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    headers: dict[str, str | list[str]] = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature or "",
    }
    return AsyncBoltRequest(body=body, headers=dict(headers))
