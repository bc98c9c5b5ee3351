"""``POST /webhooks/alertmanager``: authenticate, validate, store in the inbox, acknowledge.

The answer (202) means the delivery is committed; classification, incidents and the timeline
follow moments later in the inbox processor (``bot.services.incidents.inbox``). Keeping the ack path
to "check and store" lets a storm of notifications be acknowledged as fast as they arrive,
before Alertmanager's webhook timeout could make it send them all again.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid

from aiohttp import web

from bot.domain.incident import Delivery, Source
from handlers.alertmanager_schema import validate_alertmanager
from handlers.auth import require_bearer
from handlers.body_reader import read_body
from handlers.deps import DEPS
from handlers.json_depth import check_json_depth

# Delivery keys: random per process, then counted. As unique as a uuid4 per delivery (the
# prefix has 96 random bits), without reading the OS's random source on every delivery.
_key_prefix = uuid.uuid4().hex[:24]
_key_seq = itertools.count(1)


def _new_key_prefix() -> None:
    # A forked child must not count through its parent's keys.
    global _key_prefix, _key_seq
    _key_prefix = uuid.uuid4().hex[:24]
    _key_seq = itertools.count(1)


os.register_at_fork(after_in_child=_new_key_prefix)


def _delivery_key() -> str:
    return f"{_key_prefix}-{next(_key_seq)}"


async def receive_alertmanager(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    started = time.perf_counter()
    # The token is in a header: a sender without it is refused before its body is read.
    require_bearer(request, deps.alertmanager_token, "the Alertmanager webhook")
    body = await read_body(request, request.client_max_size)
    check_json_depth(body)
    doc = validate_alertmanager(body)
    # Alertmanager has no delivery id; every receipt is its own inbox row, and idempotency
    # comes from the alert episode and open-incident constraints when it is processed.
    key = _delivery_key()
    await deps.inbox.accept(
        Delivery(
            source=Source.ALERTMANAGER,
            key=key,
            received_at=deps.clock.now(),
            body=body,
            event_type=doc.status,
        )
    )
    deps.metrics.accepted("alertmanager", time.perf_counter() - started)
    # The key is hex digits and a dash: nothing in it needs JSON escaping.
    return web.Response(
        status=202,
        body=b'{"status": "accepted", "delivery": "' + key.encode() + b'"}',
        content_type="application/json",
    )
