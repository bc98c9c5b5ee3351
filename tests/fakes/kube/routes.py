"""HTTP routes of the fake Kubernetes API: discovery, list/get/watch of deployments,
replicasets, pods, events and namespaces, and the deployment writes (create, update, patch,
delete, the scale subresource). A middleware logs every request, checks the bearer token,
injects faults and answers errors as ``Status`` objects."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.kube import discovery
from tests.fakes.kube.errors import KubeError, not_found
from tests.fakes.kube.faults import RecordedKubeRequest
from tests.fakes.kube.openapi import PROTOBUF, openapi_v2
from tests.fakes.kube.tables import table, wants_table
from tests.fakes.kube.watch import API_VERSIONS, KINDS, matches, serve_watch

if TYPE_CHECKING:
    from tests.fakes.kube.server import FakeKube

FAKE_KUBE_KEY: web.AppKey[FakeKube] = web.AppKey("fake_kube")
GROUP_RESOURCES = {
    "": {"pods", "events"},
    "apps": {"deployments", "replicasets"},
    "autoscaling": {"horizontalpodautoscalers"},
}
BODY_KEY: web.RequestKey[Any] = web.RequestKey("fake_kube_body")
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/readyz", "/livez"})


def _fake(request: web.Request) -> FakeKube:
    return request.app[FAKE_KUBE_KEY]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    if any(value != "All" for value in values):
        raise KubeError(400, f"Invalid dryRun value: {values!r}; the only supported value is All")
    return bool(values)


def _resource(request: web.Request, group: str) -> str:
    resource = request.match_info["resource"]
    if resource not in GROUP_RESOURCES[group]:
        raise KubeError(404, "the server could not find the requested resource", reason="NotFound")
    return resource


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    fake = _fake(request)
    raw = await request.read() if request.can_read_body else b""
    record = RecordedKubeRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        body=None,
        content_type=request.content_type if raw else "",
    )
    fake.requests.append(record)
    try:
        if raw:
            try:
                record.body = json.loads(raw)
            except ValueError as exc:
                raise KubeError(400, f"the body of the request is not valid JSON: {exc}") from exc
        request[BODY_KEY] = record.body
        fault = fake.faults.before_request()
        if fault is not None:
            raise fault
        if request.path not in PUBLIC_PATHS:
            fake.authenticate(request.headers.get("Authorization"))
        response: web.StreamResponse = await handler(request)
    except KubeError as exc:
        response = _json(exc.status(), exc.code)
    except web.HTTPNotFound:
        response = _json(
            KubeError(404, "the server could not find the requested resource").status(), 404
        )
    except web.HTTPMethodNotAllowed:
        response = _json(
            KubeError(
                405, "the server does not allow this method on the requested resource"
            ).status(),
            405,
        )
    record.status = response.status
    return response


# -- discovery -------------------------------------------------------------------------------
async def _version(request: web.Request) -> web.Response:
    return _json(discovery.VERSION)


async def _api(request: web.Request) -> web.Response:
    return _json(discovery.api_versions(request.host))


async def _apis(request: web.Request) -> web.Response:
    return _json(discovery.api_groups())


async def _core_v1(request: web.Request) -> web.Response:
    return _json(discovery.core_v1())


async def _apps_v1(request: web.Request) -> web.Response:
    return _json(discovery.apps_v1())


async def _openapi_v2(request: web.Request) -> web.Response:
    if "protobuf" not in request.headers.get("Accept", ""):
        raise KubeError(404, "the server could not find the requested resource")
    return web.Response(body=openapi_v2(), content_type=PROTOBUF)


async def _namespaces(request: web.Request) -> web.Response:
    names = _fake(request).namespace_names()
    items = [discovery.namespace_object(name) for name in names]
    return _json({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items})


async def _namespace(request: web.Request) -> web.Response:
    name = request.match_info["namespace"]
    if name not in _fake(request).namespace_names():
        raise not_found("namespaces", "", name)
    return _json(discovery.namespace_object(name))


# -- reads -----------------------------------------------------------------------------------
async def _list(request: web.Request, group: str) -> web.StreamResponse:
    fake = _fake(request)
    resource = _resource(request, group)
    namespace = request.match_info.get("namespace")
    if request.query.get("watch", "").lower() in ("true", "1"):
        return await serve_watch(request, fake.store, resource, namespace)
    query = dict(request.query)
    objects = [obj for obj in fake.store.list(resource, namespace) if matches(obj, query)]
    revision = str(fake.store.revision)
    if wants_table(request.headers.get("Accept", "")):
        include = request.query.get("includeObject", "Metadata")
        return _json(
            table(resource, objects, now=fake.clock(), resource_version=revision, include=include)
        )
    for obj in objects:  # items of a typed list carry no kind, as from a real API server
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
    return _json(
        {
            "kind": f"{KINDS[resource]}List",
            "apiVersion": API_VERSIONS[resource],
            "metadata": {"resourceVersion": revision},
            "items": objects,
        }
    )


async def _list_core(request: web.Request) -> web.StreamResponse:
    return await _list(request, "")


async def _list_apps(request: web.Request) -> web.StreamResponse:
    return await _list(request, "apps")


async def _get(request: web.Request, group: str) -> web.Response:
    fake = _fake(request)
    resource = _resource(request, group)
    obj = fake.store.get(resource, request.match_info["namespace"], request.match_info["name"])
    if wants_table(request.headers.get("Accept", "")):
        include = request.query.get("includeObject", "Metadata")
        revision = obj["metadata"]["resourceVersion"]
        return _json(
            table(resource, [obj], now=fake.clock(), resource_version=revision, include=include)
        )
    return _json(obj)


async def _get_core(request: web.Request) -> web.Response:
    return await _get(request, "")


async def _get_apps(request: web.Request) -> web.Response:
    return await _get(request, "apps")


# -- writes ----------------------------------------------------------------------------------
def _only_deployments(request: web.Request) -> tuple[str, str]:
    if request.match_info["resource"] != "deployments":
        raise KubeError(405, "the server does not allow this method on the requested resource")
    return request.match_info["namespace"], request.match_info.get("name", "")


async def _create(request: web.Request) -> web.Response:
    namespace, _ = _only_deployments(request)
    created = _fake(request).deployments.create(
        namespace, request[BODY_KEY], dry_run=_dry_run(request)
    )
    return _json(created, 201)


async def _replace(request: web.Request) -> web.Response:
    namespace, name = _only_deployments(request)
    body = request[BODY_KEY]
    return _json(
        _fake(request).deployments.replace(namespace, name, body, dry_run=_dry_run(request))
    )


async def _patch(request: web.Request) -> web.Response:
    namespace, name = _only_deployments(request)
    deployments = _fake(request).deployments
    patched = deployments.patch(
        namespace, name, request[BODY_KEY], request.content_type, dry_run=_dry_run(request)
    )
    return _json(patched)


async def _delete(request: web.Request) -> web.Response:
    fake = _fake(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    if request.match_info["resource"] == "pods":
        dry_run = _dry_run(request)
        pod = fake.store.get("pods", namespace, name)
        return _json(pod if dry_run else fake.store.delete("pods", namespace, name))
    namespace, name = _only_deployments(request)
    return _json(fake.deployments.delete(namespace, name, dry_run=_dry_run(request)))


async def _scale(request: web.Request) -> web.Response:
    fake = _fake(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    deployments = fake.deployments
    if request.method == "GET":
        return _json(deployments.scale(namespace, name))
    body, dry_run = request[BODY_KEY], _dry_run(request)
    if request.method == "PUT":
        return _json(deployments.replace_scale(namespace, name, body, dry_run=dry_run))
    return _json(
        deployments.patch_scale(namespace, name, body, request.content_type, dry_run=dry_run)
    )


async def _status(request: web.Request) -> web.Response:
    store = _fake(request).store
    return _json(
        store.get("deployments", request.match_info["namespace"], request.match_info["name"])
    )


def add_routes(app: web.Application) -> None:
    core, apps = "/api/v1", "/apis/apps/v1"
    namespaced = "/namespaces/{namespace}/{resource}"
    app.router.add_get("/version", _version)
    app.router.add_get("/api", _api)
    app.router.add_get("/apis", _apis)
    app.router.add_get("/openapi/v2", _openapi_v2)
    app.router.add_get(core, _core_v1)
    app.router.add_get(apps, _apps_v1)
    app.router.add_get(f"{core}/namespaces", _namespaces)
    app.router.add_get(f"{core}/namespaces/{{namespace}}", _namespace)
    app.router.add_get(f"{core}/{{resource}}", _list_core)
    app.router.add_get(f"{core}{namespaced}", _list_core)
    app.router.add_get(f"{core}{namespaced}/{{name}}", _get_core)
    app.router.add_delete(f"{core}{namespaced}/{{name}}", _delete)
    app.router.add_get(f"{apps}/{{resource}}", _list_apps)
    app.router.add_get(f"{apps}{namespaced}", _list_apps)
    app.router.add_post(f"{apps}{namespaced}", _create)
    app.router.add_get(f"{apps}{namespaced}/{{name}}", _get_apps)
    app.router.add_put(f"{apps}{namespaced}/{{name}}", _replace)
    app.router.add_patch(f"{apps}{namespaced}/{{name}}", _patch)
    app.router.add_delete(f"{apps}{namespaced}/{{name}}", _delete)
    scale = f"{apps}/namespaces/{{namespace}}/deployments/{{name}}/scale"
    app.router.add_route("GET", scale, _scale)
    app.router.add_route("PUT", scale, _scale)
    app.router.add_route("PATCH", scale, _scale)
    app.router.add_get(f"{apps}/namespaces/{{namespace}}/deployments/{{name}}/status", _status)
