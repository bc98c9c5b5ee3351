"""The bot's HTTP routes."""

from __future__ import annotations

from aiohttp import web

from handlers.alertmanager import receive_alertmanager
from handlers.api import get_incident, get_incidents, get_postmortem
from handlers.events import api_token, event_stream
from handlers.health import healthz, metrics, readyz
from handlers.pagerduty import receive_pagerduty
from handlers.slack.route import slack_events


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/alertmanager", receive_alertmanager)
    app.router.add_post("/webhooks/pagerduty", receive_pagerduty)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/api/incidents", get_incidents)
    app.router.add_get("/api/incidents/{incident_id}", get_incident)
    app.router.add_get("/api/incidents/{incident_id}/postmortem", get_postmortem)
    # No HEAD: it would open a stream.
    app.router.add_get("/api/events", event_stream(api_token), allow_head=False)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
