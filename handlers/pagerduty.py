"""``POST /webhooks/pagerduty``: verify the signature, parse, store in the inbox deduplicated on
the webhook id, acknowledge.

Like the Alertmanager webhook, the answer (202) means the delivery is committed; the inbox
processor applies it moments later (``bot.services.incidents.inbox``), so PagerDuty and
Alertmanager take one ingest path. A redelivery of a stored webhook id is acknowledged (200,
``duplicate``) and not stored again. Events that change no incident, and bodies that are no
v3 envelope, are kept as ignored at once: there is nothing for the processor to do.
"""

from __future__ import annotations

import hashlib
import time

from aiohttp import web

from bot.domain.incident import Delivery, Source
from bot.services.incidents.deliveries import record_ignored
from bot.services.incidents.inbox import NOT_AN_EVENT
from bot.services.incidents.ingest_pagerduty import applies
from handlers.auth import pagerduty_signatures, verify_pagerduty_signature
from handlers.body_reader import read_body
from handlers.deps import DEPS
from handlers.pagerduty_schema import parse_pagerduty
from handlers.text import bounded_key


async def receive_pagerduty(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    started = time.perf_counter()
    # An unsigned request is refused before its body is read; a signed one is read (bounded)
    # because the signature covers the body.
    offered = pagerduty_signatures(
        request.headers.get("X-PagerDuty-Signature"), deps.pagerduty_secrets
    )
    body = await read_body(request, request.client_max_size)
    verify_pagerduty_signature(body, offered, deps.pagerduty_secrets)
    event = parse_pagerduty(body)
    key = request.headers.get("X-Webhook-Id") or (
        event.id if event else "body:" + hashlib.sha256(body).hexdigest()
    )
    delivery = Delivery(
        source=Source.PAGERDUTY,
        key=bounded_key(key),
        received_at=deps.clock.now(),
        body=body,
        event_type=event.event_type if event else "unreadable",
    )
    if event is None:
        outcome = await record_ignored(deps.store, delivery, NOT_AN_EVENT)
        deps.metrics.delivery("pagerduty", outcome.value)
        return web.json_response({"status": outcome.value}, status=202)
    if not applies(event):
        outcome = await record_ignored(deps.store, delivery, event.event_type)
        deps.metrics.delivery("pagerduty", outcome.value)
        return web.json_response({"status": outcome.value})
    if not await deps.inbox.accept_once(delivery):
        deps.metrics.delivery("pagerduty", "duplicate")
        return web.json_response({"status": "duplicate"})
    deps.metrics.accepted("pagerduty", time.perf_counter() - started)
    return web.json_response({"status": "accepted", "delivery": delivery.key}, status=202)
