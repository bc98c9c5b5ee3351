"""``GET /ui/`` (the incident list) and ``GET /ui/incidents/{id}`` (one incident).

Both read in one transaction and render at one ``now``. Each page is made of parts that can
be rendered alone (``?part=rows``, ``?part=timeline``, …: the same templates the page
includes), and says what it shows as of: the incident page the ``seq`` of its last timeline
entry (``data-last-seq``), the list when it was rendered. So live updates can re-render one
part when something happens instead of reloading the page.
"""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.domain.incident import id_in_path
from bot.errors import GraphUnavailable, NotFound
from bot.services.incidents.overview import incident_record, listings
from bot.services.incidents.postmortem import postmortem_filename
from handlers.deps import DEPS
from handlers.ui import filters
from handlers.ui.access import VIEWER
from handlers.ui.actions_view import action_views
from handlers.ui.escalation_view import paging_entries, path_runs
from handlers.ui.listing import row
from handlers.ui.postmortem_view import postmortem_html, postmortem_markdown
from handlers.ui.record import alert_views, entry_view, summary

LIST_PARTS = {"rows": "_incident_tables.html"}
INCIDENT_PARTS = {
    "summary": "_summary.html",
    "alerts": "_alerts.html",
    "timeline": "_timeline.html",
    "actions": "_actions.html",
    "escalation": "_escalation.html",
    "postmortem": "_postmortem.html",
    "graph": "_graph.html",
}


def _render(
    request: web.Request, page: str, part: str | None, context: dict[str, Any]
) -> web.Response:
    context["viewer"] = request.get(VIEWER)
    return aiohttp_jinja2.render_template(part or page, request, context)


async def incidents_page(request: web.Request) -> web.Response:
    deps = request.config_dict[DEPS]
    query = filters.parse(request.query)
    part = filters.part(request.query, LIST_PARTS)
    open_filter, recent_filter = query.tables()
    wanted = [f for f in (open_filter, recent_filter) if f is not None]
    found = iter(await listings(deps.store, wanted))
    now = deps.clock.now()
    open_rows = [row(i, deps.policy, now) for i in next(found)] if open_filter else None
    recent_rows = [row(i, deps.policy, now) for i in next(found)] if recent_filter else None
    context: dict[str, Any] = {
        "title": "Incidents",
        "query": query,
        "statuses": filters.STATUSES,
        "severities": filters.SEVERITIES,
        "open_rows": open_rows,
        "recent_rows": recent_rows,
        "open_max": filters.OPEN_MAX,
        "recent_max": filters.RECENT_MAX if query.status == "" else filters.OPEN_MAX,
        "now": now,
    }
    return _render(request, "incidents.html", part, context)


def incident_id(raw: str) -> int:
    found = id_in_path(raw)
    if found is None:
        raise NotFound(f"no incident {raw[:40]}")
    return found


async def incident_page(request: web.Request) -> web.Response:
    deps = request.config_dict[DEPS]
    part = filters.part(request.query, INCIDENT_PARTS)
    record = await incident_record(deps.store, incident_id(request.match_info["incident_id"]))
    now = deps.clock.now()
    incident = record.incident
    context: dict[str, Any] = {
        "title": f"#{incident.id} {incident.title}",
        "incident": incident,
        "facts": summary(incident, record.timers, deps.policy, now),
        "alerts": alert_views(record.alerts),
        "entries": [entry_view(e) for e in record.timeline],
        "last_seq": record.timeline[-1].seq if record.timeline else 0,
        "actions": action_views(record.actions, record.timeline),
        "runs": path_runs(record.timers, deps.policy),
        "paging": paging_entries(record.timeline),
        "postmortem": postmortem_html(postmortem_markdown(record, deps.policy, now)),
        "graph": await graph_view(request, incident.id),
        "now": now,
    }
    return _render(request, "incident.html", part, context)


async def graph_view(request: web.Request, incident_id: int) -> dict[str, str]:
    """What the graph section shows: the image's address (its digest in the query, so a
    redrawn graph is fetched again) and what it shows, or why there is none."""
    graphs = request.config_dict[DEPS].graphs
    if graphs is None:
        return {"src": "", "alt": "", "missing": "this firebreak draws no graphs."}
    try:
        image = await graphs.png(incident_id)
    except GraphUnavailable as exc:
        return {"src": "", "alt": "", "missing": exc.detail}
    version = hashlib.sha256(image.png).hexdigest()[:16]
    wanted = image.request
    return {
        "src": f"/ui/incidents/{incident_id}/graph.png?v={version}",
        "alt": f"{wanted.title}: {wanted.query.describe()}, the hour to {wanted.end:%H:%M} UTC",
        "missing": "",
    }


async def graph_png(request: web.Request) -> web.Response:
    """``GET /ui/incidents/{id}/graph.png``: the graph the page shows (drawn at most once a
    minute per incident); 404 saying why when there is none."""
    graphs = request.config_dict[DEPS].graphs
    wanted = incident_id(request.match_info["incident_id"])
    if graphs is None:
        raise NotFound("this firebreak draws no graphs")
    try:
        image = await graphs.png(wanted)
    except GraphUnavailable as exc:
        raise NotFound(f"no graph for incident {wanted}: {exc.detail}") from exc
    return web.Response(body=image.png, content_type="image/png")


async def postmortem_download(request: web.Request) -> web.Response:
    """``GET /ui/incidents/{id}/postmortem.md``: the page's postmortem as Markdown, a file to
    keep (the same document as the API's and the one ``/incident postmortem`` posts)."""
    deps = request.config_dict[DEPS]
    record = await incident_record(deps.store, incident_id(request.match_info["incident_id"]))
    name = postmortem_filename(record.incident.id)
    return web.Response(
        text=postmortem_markdown(record, deps.policy, deps.clock.now()),
        content_type="text/markdown",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
