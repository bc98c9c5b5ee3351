"""``POST /webhooks/alertmanager``: authenticate, parse, ingest, acknowledge after commit."""

from __future__ import annotations

import time
import uuid

from aiohttp import web

from bot.domain import Delivery, DeliveryOutcome, Source
from bot.services.ingest_alerts import ingest_alert_group
from handlers.alertmanager_schema import parse_alertmanager
from handlers.auth import require_bearer
from handlers.deps import DEPS


async def receive_alertmanager(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    started = time.perf_counter()
    try:
        require_bearer(request, deps.alertmanager_token, "the Alertmanager webhook")
    except Exception:
        deps.metrics.auth_failures.labels("alertmanager").inc()
        raise
    body = await request.read()
    group = parse_alertmanager(body)
    # Alertmanager has no delivery id; every receipt is its own inbox row, and idempotency
    # comes from the alert episode and open-incident constraints instead.
    delivery = Delivery(
        source=Source.ALERTMANAGER,
        key=uuid.uuid4().hex,
        received_at=deps.clock.now(),
        body=body,
        event_type=group.status.value,
    )
    result = await ingest_alert_group(
        store=deps.store, policy=deps.policy, clock=deps.clock, delivery=delivery, group=group
    )
    outcome = DeliveryOutcome.PROCESSED if result.incident_ids else DeliveryOutcome.IGNORED
    deps.metrics.deliveries.labels("alertmanager", outcome.value).inc()
    for incident in result.opened:
        deps.metrics.incidents_opened.labels(incident.severity.value, "alertmanager").inc()
    deps.metrics.ingest_seconds.labels("alertmanager").observe(time.perf_counter() - started)
    return web.json_response(
        {
            "status": outcome.value,
            "incidents": list(result.incident_ids),
            "opened": [i.id for i in result.opened],
            "new_alerts": result.new_alerts,
            "resolved_alerts": result.resolved_alerts,
        }
    )
