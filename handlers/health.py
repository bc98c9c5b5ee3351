"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.errors import StorageUnavailable
from bot.services.health_gauges import HealthReadings, read_health
from bot.services.incidents.inbox_backlog import inbox_backlog
from handlers.deps import DEPS

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """503 while the database is unreachable; 200 otherwise, ``degraded`` (with the reason)
    while the inbox's first-arrived pending delivery has waited longer than the bound, so a
    probe can alert on a stuck inbox without taking the replica out of service: it still
    acknowledges deliveries, and another replica may be the one that is behind."""
    deps = request.app[DEPS]
    try:
        # The backlog's query is the reachability check too.
        backlog = await inbox_backlog(deps.store)
    except StorageUnavailable as exc:
        return web.json_response({"status": "unavailable", "reason": str(exc)}, status=503)
    age = backlog.oldest_age(deps.clock.now())
    inbox = {"pending": backlog.pending, "oldest_pending_seconds": round(age, 3)}
    bound = deps.ready_max_inbox_age
    if age > bound:
        reason = (
            f"the oldest pending inbox delivery has waited {age:.0f} s, "
            f"longer than FIREBREAK_READY_MAX_INBOX_AGE_SECONDS ({bound:g} s)"
        )
        return web.json_response({"status": "degraded", "reason": reason, "inbox": inbox})
    return web.json_response({"status": "ready", "inbox": inbox})


async def metrics(request: web.Request) -> web.Response:
    """The counters, and the gauges read from the database now (NaN while it is down)."""
    deps = request.app[DEPS]
    now = deps.clock.now()
    readings: HealthReadings | None
    try:
        readings = await read_health(
            deps.store, now=now, rollout_deadline=deps.remediator.ctx.timings.rollout_deadline
        )
    except StorageUnavailable as exc:
        log.warning("the database gauges could not be read: %s", exc)
        readings = None
    deps.metrics.observe_backlog(readings.inbox if readings else None, now)
    deps.metrics.observe_outbox(readings.outbox if readings else None, now)
    deps.metrics.observe_actions(readings.actions if readings else None, now)
    body, content_type = deps.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})
