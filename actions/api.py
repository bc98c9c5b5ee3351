"""The Kubernetes API calls the actuator makes, as raw JSON, with errors translated.

kubernetes_asyncio's generated methods build the requests (paths, query parameters, auth);
``_preload_content=False`` hands back the raw response so objects stay the server's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio.client import ApiClient, AppsV1Api, AutoscalingV2Api, CoreV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from actions.errors import from_exception, from_status
from actions.objects import JsonObject, items, mapping
from bot.domain.target import Target
from bot.errors import ClusterError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
DRY_RUN_ALL = "All"


class KubeApi:
    """The handful of calls remediation needs, on one ``ApiClient``.

    ``timeout`` bounds every request in seconds; a request that takes longer is reported as
    ``ClusterUnavailable``.
    """

    def __init__(self, client: ApiClient, *, timeout: float = 10.0) -> None:
        # Typed as Any: the stubs promise models, but with _preload_content=False the
        # generated methods hand back the raw aiohttp response.
        self._apps: Any = AppsV1Api(client)
        self._core: Any = CoreV1Api(client)
        self._autoscaling: Any = AutoscalingV2Api(client)
        self._timeout = timeout

    def _options(self, *, dry_run: bool = False) -> dict[str, Any]:
        options: dict[str, Any] = {"_preload_content": False, "_request_timeout": self._timeout}
        if dry_run:
            options["dry_run"] = DRY_RUN_ALL
        return options

    async def deployment(self, target: Target) -> JsonObject:
        call = self._apps.read_namespaced_deployment(
            target.name, target.namespace, **self._options()
        )
        return await _json(call, what=f"get {target}")

    async def patch_deployment(
        self, target: Target, body: JsonObject | list[JsonObject], *, dry_run: bool
    ) -> JsonObject:
        """A JSON patch when ``body`` is a list, a strategic merge patch when it is a dict."""
        content_type = JSON_PATCH if isinstance(body, list) else STRATEGIC_MERGE_PATCH
        patch = self._apps.patch_namespaced_deployment
        return await self._patch(patch, target, body, content_type, "patch", dry_run=dry_run)

    async def patch_scale(self, target: Target, body: JsonObject, *, dry_run: bool) -> JsonObject:
        """A JSON merge patch of the scale subresource, as ``kubectl scale`` sends it."""
        patch = self._apps.patch_namespaced_deployment_scale
        return await self._patch(patch, target, body, MERGE_PATCH, "scale", dry_run=dry_run)

    async def _patch(
        self,
        patch: Callable[..., Awaitable[Any]],
        target: Target,
        body: JsonObject | list[JsonObject],
        content_type: str,
        what: str,
        *,
        dry_run: bool,
    ) -> JsonObject:
        call = patch(
            target.name,
            target.namespace,
            body,
            _content_type=content_type,
            **self._options(dry_run=dry_run),
        )
        return await _json(call, what=f"{what} {target}", dry_run=dry_run)

    async def autoscaler(self, namespace: str, name: str) -> JsonObject:
        """One ``autoscaling/v2`` HorizontalPodAutoscaler."""
        call = self._autoscaling.read_namespaced_horizontal_pod_autoscaler(
            name, namespace, **self._options()
        )
        return await _json(call, what=f"get {namespace}/hpa/{name}")

    async def patch_autoscaler(
        self, namespace: str, name: str, body: JsonObject, *, dry_run: bool
    ) -> JsonObject:
        """A JSON merge patch of an HPA."""
        call = self._autoscaling.patch_namespaced_horizontal_pod_autoscaler(
            name,
            namespace,
            body,
            _content_type=MERGE_PATCH,
            **self._options(dry_run=dry_run),
        )
        return await _json(call, what=f"patch {namespace}/hpa/{name}", dry_run=dry_run)

    async def replicasets(self, namespace: str, *, label_selector: str) -> list[JsonObject]:
        call = self._apps.list_namespaced_replica_set(
            namespace, label_selector=label_selector, **self._options()
        )
        return items(await _json(call, what=f"list replicasets in {namespace}"))

    async def pods(self, namespace: str, *, label_selector: str) -> list[JsonObject]:
        call = self._core.list_namespaced_pod(
            namespace, label_selector=label_selector, **self._options()
        )
        return items(await _json(call, what=f"list pods in {namespace}"))

    async def events(self, namespace: str) -> list[JsonObject]:
        call = self._core.list_namespaced_event(namespace, **self._options())
        return items(await _json(call, what=f"list events in {namespace}"))


def label_selector(deployment: JsonObject) -> str:
    """``spec.selector`` in the query syntax (``a=b,c in (d,e),!f``), as kubectl sends it."""
    selector = mapping(deployment, "spec", "selector")
    terms = [f"{key}={value}" for key, value in sorted(mapping(selector, "matchLabels").items())]
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            terms.append(f"{key} in ({values})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif operator == "Exists":
            terms.append(key)
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            raise ClusterError(f"unknown label selector operator {operator!r}")
    return ",".join(terms)


async def _json(
    call: Awaitable[aiohttp.ClientResponse], *, what: str, dry_run: bool = False
) -> JsonObject:
    try:
        response = await call
        try:
            body = await response.read()
        finally:
            response.release()
    except (ApiException, aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise from_exception(exc, what=what, dry_run=dry_run) from exc
    if not 200 <= response.status < 300:
        raise from_status(response.status, body, what=what, dry_run=dry_run)
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise ClusterError(f"{what}: the API answered with something that is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ClusterError(f"{what}: the API answered with JSON that is not an object")
    return parsed
