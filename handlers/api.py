"""``GET /api/incidents``, ``GET /api/incidents/{id}`` (JSON) and
``GET /api/incidents/{id}/postmortem`` (Markdown): read-only, behind a token."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.domain.incident import (
    AlertEpisode,
    Incident,
    IncidentFilter,
    IncidentStatus,
    Severity,
    TimelineEntry,
    id_in_path,
)
from bot.errors import BadRequest
from bot.services.incidents.postmortem import (
    MEDIA_TYPE,
    load_postmortem,
    postmortem_filename,
    render_facts,
)
from bot.services.incidents.queries import list_incidents, show_incident
from handlers.auth import require_bearer
from handlers.deps import DEPS


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "source": incident.source.value,
        "service": incident.service,
        "scenario": incident.scenario,
        "response_minutes": incident.response_minutes,
        "group_key": incident.group_key,
        "pagerduty_id": incident.pagerduty_id,
        "dedup_key": incident.dedup_key,
        "labels": dict(incident.labels),
        "created_at": _time(incident.created_at),
        "updated_at": _time(incident.updated_at),
        "acknowledged_at": _time(incident.acknowledged_at),
        "resolved_at": _time(incident.resolved_at),
        "commander": incident.commander,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "flap_count": incident.flap_count,
        "silenced_until": _time(incident.silenced_until),
        "merged_into": incident.merged_into,
        "storm_key": incident.storm_key,
    }


def _alert_json(alert: AlertEpisode) -> dict[str, Any]:
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "status": alert.status.value,
        "severity": alert.severity.value,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": _time(alert.starts_at),
        "ends_at": _time(alert.ends_at),
        "generator_url": alert.generator_url,
        # The Alertmanager group it arrived in: a storm incident holds many.
        "group_key": alert.group_key,
    }


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": _time(entry.at),
        "actor": str(entry.actor),
        "kind": entry.kind,
        "body": entry.body,
        "hash": entry.hash,
    }


def _filter(query: Any) -> IncidentFilter:
    status = query.get("status")
    severity = query.get("severity")
    try:
        limit = int(query.get("limit", 100))
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    if status not in (None, "open", *[s.value for s in IncidentStatus]):
        raise BadRequest("status must be one of open, triggered, acknowledged, resolved")
    if severity not in (None, *[s.value for s in Severity]):
        raise BadRequest("severity must be one of P0, P1, P2")
    return IncidentFilter(
        status=IncidentStatus(status) if status not in (None, "open") else None,
        open_only=status == "open",
        severity=Severity(severity) if severity else None,
        limit=max(1, min(limit, 1000)),
    )


async def get_incidents(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    require_bearer(request, deps.api_token, "the incidents API")
    incidents = await list_incidents(deps.store, _filter(request.query))
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def get_incident(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    require_bearer(request, deps.api_token, "the incidents API")
    detail = await show_incident(deps.store, incident_id_of(request))
    return web.json_response(
        {
            **incident_json(detail.incident),
            "alerts": [_alert_json(a) for a in detail.alerts],
            "timeline": [_entry_json(e) for e in detail.timeline],
        }
    )


def incident_id_of(request: web.Request) -> int:
    """The ``{incident_id}`` of the path as an id; ``BadRequest`` for anything that is not
    one (letters, a sign, non-ASCII digits, a number beyond the id column)."""
    found = id_in_path(request.match_info["incident_id"])
    if found is None:
        raise BadRequest("the incident id must be a whole number")
    return found


async def get_postmortem(request: web.Request) -> web.Response:
    """The incident's postmortem as a Markdown document (``text/markdown``, UTF-8)."""
    deps = request.app[DEPS]
    require_bearer(request, deps.api_token, "the incidents API")
    incident_id = incident_id_of(request)
    facts = await load_postmortem(deps.store, incident_id, policy=deps.policy)
    document = render_facts(facts, now=deps.clock.now())
    return web.Response(
        text=document,
        content_type=MEDIA_TYPE,
        charset="utf-8",
        headers={"Content-Disposition": f'inline; filename="{postmortem_filename(incident_id)}"'},
    )
