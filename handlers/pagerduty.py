"""``POST /webhooks/pagerduty``: verify the signature, deduplicate on the webhook id, ingest."""

from __future__ import annotations

import hashlib
import time

from aiohttp import web

from bot.domain.incident import Delivery, Source
from bot.services.incidents.deliveries import record_ignored
from bot.services.incidents.ingest_pagerduty import ingest_pagerduty_event
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
        outcome = await record_ignored(deps.store, delivery, "not a v3 event envelope")
        deps.metrics.deliveries.labels("pagerduty", outcome.value).inc()
        return web.json_response({"status": outcome.value}, status=202)
    result = await ingest_pagerduty_event(
        store=deps.store, policy=deps.policy, clock=deps.clock, delivery=delivery, event=event
    )
    deps.metrics.deliveries.labels("pagerduty", result.outcome.value).inc()
    if result.opened is not None:
        deps.metrics.incidents_opened.labels(result.opened.severity.value, "pagerduty").inc()
    deps.metrics.ingest_seconds.labels("pagerduty").observe(time.perf_counter() - started)
    return web.json_response({"status": result.outcome.value, "incident": result.incident_id})
