"""The live feed as server-sent events: ``GET /api/events`` behind the API token, and the same
stream wherever another route mounts it with its own authentication (``event_stream``).

A stream starts with a ``retry:`` hint, then the events the client missed since the id it
names (``Last-Event-ID``, sent by a reconnecting ``EventSource``, or ``?after=N`` for a page
that rendered up to N; the header wins), at most ``LiveLimits.catch_up`` of them (then it
ends, and the client reconnects from the last one), then every new event as it is committed
by any replica, and a comment every ``LiveLimits.heartbeat`` seconds when nothing happens.
``?incident=ID`` keeps one incident's events. Each event is ``id: <timeline id>`` and one
``data:`` line of JSON (``bot.services.live.events``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.domain.incident import ID_MAX
from bot.errors import BadRequest, StorageUnavailable
from bot.services.live.events import LiveEvent
from bot.services.live.feed import LiveFeed
from bot.services.live.subscription import Beat
from handlers.auth import require_bearer
from handlers.deps import DEPS
from httpguard.text import printable

log = logging.getLogger("firebreak.live")

# The feed of the running app, set by the composition root; looked up through config_dict,
# so a sub-application (the web page) that mounts the stream finds it too.
LIVE_FEED = web.AppKey("live_feed", LiveFeed)

# Milliseconds a disconnected EventSource waits before it reconnects; after a catch-up cut
# at its bound, the client is asked back sooner (the next connection says 2000 again).
RETRY_MS = 2000
RETRY_SOON_MS = 250
# Incident ids and timeline (event) ids live in INTEGER columns, and PostgreSQL refuses a
# larger number outright, which would read as the database being down (503): a larger one is
# not one of ours (400).
INCIDENT_ID_MAX = ID_MAX
EVENT_ID_MAX = ID_MAX
# Digits read before the bound is checked: no conversion of an arbitrarily long number.
_MAX_DIGITS = 18

# Raises AuthError (401) unless the request may follow the stream.
Authorize = Callable[[web.Request], None]


def api_token(request: web.Request) -> None:
    """The API's check: ``Authorization: Bearer $FIREBREAK_API_TOKEN``."""
    require_bearer(request, request.config_dict[DEPS].api_token, "the events API")


def event_stream(authorize: Authorize) -> Handler:
    """The stream handler, behind ``authorize`` (which knows nothing of the stream, and the
    stream nothing of how its caller signed in)."""

    async def stream(request: web.Request) -> web.StreamResponse:
        authorize(request)
        after, incident_id = stream_params(request)
        return await _serve(request, request.config_dict[LIVE_FEED], after, incident_id)

    return stream


def stream_params(request: web.Request) -> tuple[int | None, int | None]:
    """``(after, incident_id)`` from ``Last-Event-ID`` (an empty one counts as none),
    ``?after`` and ``?incident``; ``BadRequest`` for anything that is not one whole number."""
    last = _single(request.headers.getall("Last-Event-ID", []), "Last-Event-ID")
    after = _single(request.query.getall("after", []), "after")
    incident = _single(request.query.getall("incident", []), "incident")
    from_query = _number("after", after, EVENT_ID_MAX) if after is not None else None
    from_header = _number("Last-Event-ID", last, EVENT_ID_MAX) if last else None
    incident_id = _number("incident", incident, INCIDENT_ID_MAX) if incident is not None else None
    if incident_id == 0:
        raise BadRequest("incident must be an incident id, not 0")
    return (from_header if from_header is not None else from_query), incident_id


def _single(found: list[str], name: str) -> str | None:
    if len(found) > 1:
        raise BadRequest(f"{name} given {len(found)} times")
    return found[0].strip() if found else None


def _number(name: str, raw: str, largest: int) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS) or int(raw) > largest:
        what = "an incident id" if name == "incident" else "an event id"
        raise BadRequest(
            f"{name} must be {what} (a whole number up to {largest}), not {raw[:40]!r}"
        )
    return int(raw)


def _frame(item: LiveEvent | Beat) -> bytes:
    if isinstance(item, Beat):
        return b": heartbeat\n\n"
    return f"id: {item.id}\ndata: {item.data}\n\n".encode()


def _connection(request: web.Request) -> tuple[Callable[[], bool], Callable[[], None]]:
    """Whether the client is still connected, and how to cut it off."""

    def connected() -> bool:
        # aiohttp drops the transport when the connection is lost.
        transport = request.transport
        return transport is not None and not transport.is_closing()

    def abort() -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    return connected, abort


async def _serve(
    request: web.Request, feed: LiveFeed, after: int | None, incident_id: int | None
) -> web.StreamResponse:
    connected, disconnect = _connection(request)
    subscription = feed.subscribe(
        after=after, incident_id=incident_id, connected=connected, disconnect=disconnect
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            # Reverse proxies that buffer responses (nginx) would hold the events back.
            "X-Accel-Buffering": "no",
        }
    )

    async def send(data: bytes) -> None:
        # Bounded: a client that stops reading would otherwise hold the handler for good.
        await subscription.write(lambda: response.write(data), within=feed.limits.heartbeat)

    try:
        async with aclosing(feed.catch_up(subscription)) as pages:
            # The first page before the answer starts, so a database that cannot be read
            # is still a 503 the client retries, not an empty stream.
            first = await anext(pages, None)
            await response.prepare(request)
            await send(f"retry: {RETRY_MS}\n\n".encode())
            try:
                page = first
                while page is not None:
                    await send(b"".join(_frame(event) for event in page))
                    subscription.sent(page[-1].id)
                    page = await anext(pages, None)
            except StorageUnavailable as exc:
                log.warning("live event stream ended while catching up: %s", printable(str(exc)))
                return response
        if not subscription.caught_up:
            await send(f"retry: {RETRY_SOON_MS}\n: reconnect for more\n\n".encode())
        else:
            while (item := await subscription.next()) is not None:
                await send(_frame(item))
        await subscription.write(response.write_eof, within=feed.limits.heartbeat)
    except ConnectionError:
        # The client went away, or was cut off for falling behind or not reading (logged
        # then), or at shutdown while a write waited on it.
        pass
    finally:
        feed.unsubscribe(subscription)
    return response
