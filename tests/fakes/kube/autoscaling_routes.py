"""HTTP routes of the fake Kubernetes API for ``autoscaling/v2`` HorizontalPodAutoscalers:
discovery, list/get/watch (the shared read paths of ``routes``), and update and patch (merge,
strategic merge and JSON patch, as for deployments)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.kube import discovery
from tests.fakes.kube.routes import BODY_KEY, _dry_run, _fake, _get, _json, _list

GROUP = "autoscaling"
BASE = "/apis/autoscaling/v2"


async def _discovery(request: web.Request) -> web.Response:
    return _json(discovery.autoscaling_v2())


async def _list_hpa(request: web.Request) -> web.StreamResponse:
    return await _list(request, GROUP)


async def _get_hpa(request: web.Request) -> web.Response:
    return await _get(request, GROUP)


async def _patch_hpa(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    patched = _fake(request).autoscalers.patch(
        namespace, name, request[BODY_KEY], request.content_type, dry_run=_dry_run(request)
    )
    return _json(patched)


async def _replace_hpa(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    replaced = _fake(request).autoscalers.replace(
        namespace, name, request[BODY_KEY], dry_run=_dry_run(request)
    )
    return _json(replaced)


def add_autoscaling_routes(app: web.Application) -> None:
    namespaced = f"{BASE}/namespaces/{{namespace}}/{{resource}}"
    app.router.add_get(BASE, _discovery)
    app.router.add_get(f"{BASE}/{{resource}}", _list_hpa)
    app.router.add_get(namespaced, _list_hpa)
    app.router.add_get(f"{namespaced}/{{name}}", _get_hpa)
    hpa = f"{BASE}/namespaces/{{namespace}}/horizontalpodautoscalers/{{name}}"
    app.router.add_patch(hpa, _patch_hpa)
    app.router.add_put(hpa, _replace_hpa)
