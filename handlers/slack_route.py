"""``POST /slack/events``: the aiohttp side of the Bolt app (commands, buttons, events)."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

# Slack never sends more than this; anything larger is not from Slack and is refused before
# it is read into memory.
SLACK_MAX_BODY = 1024 * 1024

BOLT = web.AppKey("bolt", AsyncApp)


async def slack_events(request: web.Request) -> web.StreamResponse:
    bolt = request.app.get(BOLT)
    if bolt is None:
        raise web.HTTPServiceUnavailable(
            text="Slack is not configured on this firebreak (set SLACK_SIGNING_SECRET)"
        )
    if request.content_length is not None and request.content_length > SLACK_MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(
            max_size=SLACK_MAX_BODY, actual_size=request.content_length
        )
    body = await request.content.read(SLACK_MAX_BODY + 1)
    if len(body) > SLACK_MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=SLACK_MAX_BODY, actual_size=len(body))
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=request.query_string,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))
