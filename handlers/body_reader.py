"""Reading a request body, bounded: the one place every webhook route reads its body.

``request.content.read(n)`` returns whatever has arrived so far, so a body that comes in
several TCP segments was cut short (and its signature then failed); and ``request.read()``
lets aiohttp inflate a ``Content-Encoding: gzip`` body in 32 MiB steps before any limit
applies. Here the body is read to its end, never past ``limit`` bytes, and compressed
bodies are refused unread: Alertmanager, PagerDuty and Slack send none, so an encoded body
is not from them, and refusing it keeps memory flat under a decompression bomb.
"""

from __future__ import annotations

from aiohttp import web

from bot.errors import BadRequest, PayloadTooLarge, UnsupportedEncoding

# What was read of a request's body, for the refusal log line (``handlers.refusals``).
BODY_SIZE = web.RequestKey("body_size", int)

_IDENTITY = frozenset({"", "identity"})


def refuse_encoded(request: web.Request) -> None:
    """Raise ``UnsupportedEncoding`` for a body sent with any ``Content-Encoding``."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _IDENTITY:
        raise UnsupportedEncoding("Content-Encoding is not accepted here; send the body as is")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes; ``PayloadTooLarge`` without reading further.

    A declared ``Content-Length`` over the limit is refused before anything is read."""
    refuse_encoded(request)
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the limit of {limit}")
    body = bytearray()
    try:
        # readany() returns what the parser has buffered (bounded by its flow control), so a
        # body larger than the limit costs at most the limit plus one buffer.
        while chunk := await request.content.readany():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
    except (web.RequestPayloadError, ConnectionError) as exc:
        # A bad chunked encoding or a sender that hung up: nothing to store, nobody to blame.
        raise BadRequest(f"the body did not arrive whole: {exc}") from exc
    finally:
        # Also when the read ends otherwise (a slow body cut): refusal lines report it.
        request[BODY_SIZE] = len(body)
    return bytes(body)
