"""The incident web page's pages over real HTTP to the real app on SQLite and PostgreSQL:
the list with its columns and filters, an incident whole (alerts, timeline, actions with
their approvals and dry runs, paging), escaping of whatever alerts carry, the error pages,
the headers every response carries, and that no route under /ui/ changes anything."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from bot.app import ESCALATION, PROCESSOR
from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.incident import IncidentFilter
from bot.policy.model import Policy
from bot.services.incidents.updates import acknowledge
from db.migrate import upgrade_async
from handlers.deps import DEPS
from tests.fakes.memory.cluster import MemoryCluster
from tests.support.actions import ALICE, Env
from tests.support.bot_app import AM_AUTH, API_TOKEN, Client, MakeClient, process_inbox
from tests.support.payloads.alertmanager import alert, resolved, webhook
from tests.support.web_ui import CSP, row_ids, sign_in, web_app

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


@dataclass
class Site:
    client: Client
    app: web.Application
    clock: FixedClock

    async def alerts(self, key: str, *alerts: dict[str, Any]) -> None:
        resp = await self.client.post(
            "/webhooks/alertmanager", data=json.dumps(webhook(key, list(alerts))), headers=AM_AUTH
        )
        assert resp.status == 202, await resp.text()
        await process_inbox(self.app)
        await self.app[ESCALATION].drain()

    async def page(self, path: str, status: int = 200) -> str:
        resp = await self.client.get(path, allow_redirects=False)
        text = await resp.text()
        assert resp.status == status, (path, resp.status, text[:500])
        return text


@pytest.fixture
async def site(
    aiohttp_client: MakeClient, database_url: str, policy: Policy, clock: FixedClock
) -> Site:
    await upgrade_async(database_url)
    app = web_app(database_url, policy, clock)
    client = await aiohttp_client(app)
    assert (await sign_in(client)).status == 303
    return Site(client, app, clock)


@pytest.fixture(autouse=True)
def log_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def row_html(html: str, table: str, incident_id: int) -> str:
    found = re.search(rf'<tr id="{table}-{incident_id}".*?</tr>', html, re.S)
    assert found is not None, f"no row {table}-{incident_id}"
    return found.group(0)


async def three_incidents(site: Site) -> None:
    """#1 a P0 of lnn-service, #2 a P1 of lnn-service, #3 a P2 of checkout."""
    await site.alerts("g-down", alert("LNNServiceDown", service="lnn-service"))
    await site.alerts("g-slow", alert("LNNHighLatency", service="lnn-service"))
    await site.alerts("g-mem", alert("LNNHighMemory", "warning", service="checkout"))


async def test_the_list_shows_open_and_resolved_incidents_with_their_response(
    site: Site,
) -> None:
    await three_incidents(site)
    store = site.app[DEPS].store
    site.clock.advance(5 * 60)
    await acknowledge(store, 2, actor=Actor("slack", "U0ALICE"), at=site.clock.now())
    site.clock.advance(15 * 60)  # #1, a P0 with a 15-minute target, is 5 minutes overdue
    mem = alert("LNNHighMemory", "warning", service="checkout")
    await site.alerts("g-mem", resolved(mem, site.clock.now()))

    html = await site.page("/ui/")
    assert row_ids(html, "open") == [2, 1]
    assert row_ids(html, "resolved") == [3]
    p0 = row_html(html, "open", 1)
    assert '<a href="/ui/incidents/1">#1 LNNServiceDown' in p0
    assert '<span class="sev sev-p0">P0</span>' in p0
    assert "overdue by 5 min" in p0
    # The second level is due at 15 minutes, with the target.
    assert "level 2/5 · secondary on-call notified" in p0
    assert '<td data-label="Age">20 min</td>' in p0
    p1 = row_html(html, "open", 2)
    assert '<td data-label="To acknowledge">5 min</td>' in p1
    assert "met, answered after 5 min" in p1
    p2 = row_html(html, "resolved", 3)
    assert '<td data-label="To resolve">20 min</td>' in p2
    assert 'data-page="incidents"' in html


async def test_filters_narrow_the_list(site: Site) -> None:
    await three_incidents(site)
    await acknowledge(site.app[DEPS].store, 2, actor=Actor("slack", "U0ALICE"), at=site.clock.now())
    cases: dict[str, tuple[list[int], list[int]]] = {
        "status=acknowledged": ([2], []),
        "status=triggered": ([3, 1], []),
        "severity=P0": ([1], []),
        "service=checkout": ([3], []),
        "service=lnn-service&severity=P1": ([2], []),
        "status=resolved": ([], []),
        "status=all&service=nobody": ([], []),
    }
    for query, (open_ids, resolved_ids) in cases.items():
        html = await site.page(f"/ui/?{query}")
        assert row_ids(html, "open") == open_ids, query
        assert row_ids(html, "resolved") == resolved_ids, query
    resolved_only = await site.page("/ui/?status=resolved")
    assert 'id="open"' not in resolved_only
    assert 'id="resolved"' in resolved_only
    acked = await site.page("/ui/?status=acknowledged")
    assert 'id="resolved"' not in acked
    # The form shows what is filtered.
    assert '<option value="acknowledged" selected>' in acked


@pytest.mark.parametrize(
    "query",
    [
        "severity=P9",
        "status=closed",
        "status=open&status=resolved",
        "service=" + "x" * 201,
        "service=a%0Ab",
        "part=everything",
    ],
)
async def test_a_bad_filter_is_a_400_page_and_one_line(
    site: Site, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    caplog.clear()
    html = await site.page(f"/ui/?{query}", 400)
    assert "<h1>Bad request</h1>" in html
    refused = [r.getMessage() for r in caplog.records if r.name == "firebreak.refused"]
    assert len(refused) == 1
    assert refused[0].startswith("refused GET /ui/: 400 ")
    assert tracebacks(caplog) == []


async def test_what_alerts_carry_is_shown_as_text(site: Site) -> None:
    evil = alert(
        f"Down{SCRIPT}",
        service=f"svc{IMG}",
        note=SCRIPT,
        picture=IMG,
    )
    evil["annotations"]["description"] = f"see {IMG} and {SCRIPT}"
    evil["generatorURL"] = "javascript:alert(3)"
    await site.alerts("g-evil", evil)
    for path in (
        "/ui/",
        "/ui/incidents/1",
        "/ui/?status=all",
        "/ui/incidents/1?part=alerts",
        "/ui/incidents/1?part=postmortem",
    ):
        html = await site.page(path)
        assert "<script>" not in html, path
        assert "<img" not in html, path
        assert 'href="javascript' not in html, path
    page = await site.page("/ui/incidents/1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "Source graph" not in page  # not an http(s) URL: no link
    assert "<title>#1 Down&lt;script&gt;" in page


async def test_an_http_generator_url_links_to_its_graph(site: Site) -> None:
    graph = alert("LNNServiceDown")
    graph["generatorURL"] = "http://prometheus.local/graph?g0.expr=up%3D%3D0&g0.tab=1"
    await site.alerts("g-graph", graph)
    page = await site.page("/ui/incidents/1")
    assert (
        '<a class="source" href="http://prometheus.local/graph?g0.expr=up%3D%3D0&amp;g0.tab=1"'
        in page
    )


async def test_the_incident_page_shows_its_timeline_actions_and_paging(site: Site) -> None:
    await site.alerts(
        "g-slow", alert("LNNHighLatency", namespace="firebreak", deployment="lnn-service")
    )
    await site.alerts(
        "g-down", alert("LNNServiceDown", namespace="firebreak", deployment="lnn-service")
    )
    cluster = MemoryCluster()
    cluster.add("firebreak", "lnn-service", replicas=3, images=("v1", "v2"))
    env = Env(site.app[DEPS].store, cluster, site.clock, site.app[DEPS].policy)
    scale = (await env.request(1, "scale", replicas=6)).action
    await env.approve(scale.id, ALICE)
    assert (await env.execute(scale.id, ALICE)).state.value == "succeeded"
    cluster.reject_dry_run = "quota exceeded"
    restart = (await env.request(2, "restart")).action
    await env.approve(restart.id, ALICE)
    assert (await env.execute(restart.id, ALICE)).state.value == "failed"

    page = await site.page("/ui/incidents/1")
    actions = re.search(r'<section id="actions".*?</section>', page, re.S)
    assert actions is not None
    text = actions.group(0)
    assert f"#{scale.id} scale firebreak/deploy/lnn-service to 6" in text
    assert '<span class="state state-succeeded">succeeded</span>' in text
    assert "by slack:U0MALLORY" in text
    assert "1 of 1" in text
    assert "slack:U0ALICE" in text
    assert "<dt>Dry run</dt><dd>passed</dd>" in text
    assert "Action #1 succeeded" in text
    timeline = re.search(r'<section id="timeline".*?</section>', page, re.S)
    assert timeline is not None
    assert "Opened as P1: LNNHighLatency" in timeline.group(0)
    assert "Escalation level 1/2 of P1 (on-call engineer)" in timeline.group(0)
    entries = [int(s) for s in re.findall(r'<tr id="entry-(\d+)"', page)]
    assert entries == list(range(1, len(entries) + 1))
    assert f'data-last-seq="{entries[-1]}"' in page
    paging = re.search(r'<section id="escalation".*?</section>', page, re.S)
    assert paging is not None
    assert "Path 1: P1" in paging.group(0)
    assert "Level 1 (on-call engineer): slack primary" in paging.group(0)
    assert "Level 2 (unacknowledged for an hour): raise to P0" in paging.group(0)
    assert '<section id="postmortem"' in page

    failed = await site.page("/ui/incidents/2?part=actions")
    assert failed.startswith('<section id="actions"')
    assert "dry run rejected: quota exceeded" in failed


async def test_the_postmortem_is_on_the_page_and_kept_as_the_apis_markdown(site: Site) -> None:
    await site.alerts("g-pm", alert("LNNServiceDown", note=SCRIPT))
    section = await site.page("/ui/incidents/1?part=postmortem")
    # The document's headings sit under the section's own h2.
    assert "<h3>Postmortem: incident #1: LNNServiceDown" in section
    assert "<h4>Root cause</h4>" in section
    assert "<h1>" not in section
    assert "<table>" in section  # the timeline, rendered as a table
    assert "<script>" not in section
    download = await site.client.get("/ui/incidents/1/postmortem.md")
    assert download.status == 200
    assert download.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="incident-1-postmortem.md"'
    )
    api = await site.client.get(
        "/api/incidents/1/postmortem", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert await download.text() == await api.text()
    site.client.session.cookie_jar.clear()
    refused = await site.client.get("/ui/incidents/1/postmortem.md", allow_redirects=False)
    assert refused.status == 303
    assert refused.headers["Location"].startswith("/ui/sign-in")


async def test_a_part_renders_one_section_alone(site: Site) -> None:
    await three_incidents(site)
    timeline = await site.page("/ui/incidents/1?part=timeline")
    assert timeline.lstrip().startswith('<section id="timeline"')
    assert "<html" not in timeline
    rows = await site.page("/ui/?part=rows&severity=P2")
    assert rows.lstrip().startswith('<div id="incident-tables"')
    assert row_ids(rows, "open") == [3]


@pytest.mark.parametrize(
    "path", ["/ui/incidents/999", "/ui/incidents/abc", "/ui/incidents/99999999999", "/ui/nowhere"]
)
async def test_an_unknown_incident_or_page_is_a_404_page(site: Site, path: str) -> None:
    html = await site.page(path, 404)
    assert "<h1>Not found</h1>" in html


async def test_every_ui_response_carries_the_security_headers(
    aiohttp_client: MakeClient, site: Site, sqlite_url: str, policy: Policy
) -> None:
    await three_incidents(site)
    anonymous = await aiohttp_client(web_app(sqlite_url, policy))
    requests = [
        (site.client, "GET", "/ui/", 200),
        (site.client, "GET", "/ui/?status=all", 200),
        (site.client, "GET", "/ui/incidents/1", 200),
        (site.client, "GET", "/ui/incidents/1?part=summary", 200),
        (site.client, "GET", "/ui/incidents/404", 404),
        (site.client, "GET", "/ui/?severity=P9", 400),
        (site.client, "GET", "/ui/static/ui.css", 200),
        (site.client, "POST", "/ui/", 405),
        (anonymous, "GET", "/ui", 308),
        (anonymous, "GET", "/ui/", 303),
        (anonymous, "GET", "/ui/sign-in", 200),
        (anonymous, "POST", "/ui/sign-in", 400),
        (anonymous, "POST", "/ui/sign-out", 303),
    ]
    for client, method, path, status in requests:
        resp = await client.request(method, path, allow_redirects=False)
        assert resp.status == status, (method, path, resp.status)
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path
        if not path.startswith("/ui/static/"):
            assert resp.headers["Cache-Control"] == "no-store", path
    css = await site.client.get("/ui/static/ui.css")
    assert css.content_type == "text/css"
    script = await site.client.get("/ui/static/live.js")
    assert script.content_type in ("application/javascript", "text/javascript")
    # Nothing inline for the CSP to allow: one script, from a file; no style attributes.
    page = await site.page("/ui/incidents/1")
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/ui/static/live.js" defer>']
    assert '<script src="/ui/static/live.js" defer></script>' in page  # nothing inline
    assert "style=" not in page
    assert "<style" not in page


async def test_no_route_under_ui_changes_an_incident(site: Site) -> None:
    await three_incidents(site)
    store = site.app[DEPS].store

    async def state() -> list[tuple[str, int]]:
        async with store.transaction() as uow:
            incidents = await uow.incidents.list(IncidentFilter())
            return [(i.status.value, len(await uow.timeline.for_incident(i.id))) for i in incidents]

    before = await state()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/ui/", "/ui/incidents/1", "/ui/incidents/1?part=actions"):
            resp = await site.client.request(method, path, data=b"status=resolved")
            assert resp.status == 405, (method, path)
            assert "read-only" in await resp.text()
    assert await state() == before
    # The routes themselves: only the sign-in and sign-out forms take anything but GET.
    ui_app = next(r.get_info()["app"] for r in site.app.router.resources() if "app" in r.get_info())
    writes = {
        (route.method, route.resource.canonical)
        for route in ui_app.router.routes()
        if route.method not in ("GET", "HEAD") and route.resource is not None
    }
    assert writes == {("POST", "/ui/sign-in"), ("POST", "/ui/sign-out")}
    assert site.app[PROCESSOR] is not None


async def test_without_prometheus_the_graph_section_says_why(site: Site) -> None:
    await site.alerts("g-nograph", alert("LNNServiceDown"))
    # An open incident's page looks again every minute (its graph moves without entries).
    assert 'data-open="true"' in await site.page("/ui/incidents/1")
    section = await site.page("/ui/incidents/1?part=graph")
    assert section.lstrip().startswith('<section id="graph"')
    assert "No graph:" in section
    assert "<img" not in section
    assert "no graph for incident 1" in await site.page("/ui/incidents/1/graph.png", status=404)


async def test_the_graph_is_drawn_from_the_configured_prometheus_and_served_as_png(
    aiohttp_client: MakeClient, aiohttp_server: Any, sqlite_url: str, policy: Policy
) -> None:
    asked: list[dict[str, str]] = []

    async def query_range(request: web.Request) -> web.Response:
        asked.append(dict(request.query))
        start = float(request.query["start"])
        values = [[start + 15 * n, str(0.2 + (n % 7) / 10)] for n in range(240)]
        series = {"metric": {"instance": "lnn-0"}, "values": values}
        data = {"resultType": "matrix", "result": [series]}
        return web.json_response({"status": "success", "data": data})

    prometheus = web.Application()
    prometheus.router.add_get("/api/v1/query_range", query_range)
    server = await aiohttp_server(prometheus, host="127.0.0.1")
    await upgrade_async(sqlite_url)
    app = web_app(sqlite_url, policy, prometheus_url=str(server.make_url("/")).rstrip("/"))
    client = await aiohttp_client(app)
    assert (await sign_in(client)).status == 303
    site = Site(client, app, FixedClock(datetime.now(UTC)))
    graphed = alert("LNNHighLatency")
    # Only the configured Prometheus is asked: the alert's own link names another host.
    graphed["generatorURL"] = (
        "http://prometheus.invalid/graph?g0.expr=" + quote("lnn_p99_seconds > 0.5") + "&g0.tab=1"
    )
    await site.alerts("g-graph", graphed)

    section = await site.page("/ui/incidents/1?part=graph")
    src = re.search(r'<img src="([^"]+)"', section)
    assert src is not None, section
    assert src.group(1).startswith("/ui/incidents/1/graph.png?v=")
    assert "lnn_p99_seconds &gt; 0.5" in section  # the alt text and caption, escaped
    png = await client.get(src.group(1))
    assert png.status == 200
    assert png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG\r\n\x1a\n")
    assert asked
    assert {q["query"] for q in asked} == {"lnn_p99_seconds"}
