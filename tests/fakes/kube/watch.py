"""``?watch=true``: a chunked stream of ``{"type": ..., "object": ...}`` lines, as the API
server sends it; starts from a resourceVersion (replaying the change log) or from "now" with
synthetic ADDED events, and ends at ``timeoutSeconds`` or when the fake shuts down."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.fakes.kube.errors import KubeError
from tests.fakes.kube.objects import field_selector_matches, label_selector_matches
from tests.fakes.kube.state import Change, Obj, ObjectStore, Watcher

MAX_WATCH_SECONDS = 300.0
API_VERSIONS = {
    "deployments": "apps/v1",
    "replicasets": "apps/v1",
    "pods": "v1",
    "events": "v1",
    "horizontalpodautoscalers": "autoscaling/v2",
}
KINDS = {
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "pods": "Pod",
    "events": "Event",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
}


def matches(obj: Obj, query: dict[str, str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return label_selector_matches(
        query.get("labelSelector", ""), labels
    ) and field_selector_matches(query.get("fieldSelector", ""), obj)


async def _send(response: web.StreamResponse, kind: str, obj: Obj) -> None:
    line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
    await response.write(line.encode())


def _initial(
    store: ObjectStore, resource: str, namespace: str | None, query: dict[str, str]
) -> list[Change]:
    since = query.get("resourceVersion", "")
    if query.get("sendInitialEvents") == "true" or since in ("", "0"):
        return [
            Change(int(obj["metadata"]["resourceVersion"]), resource, "ADDED", obj)
            for obj in store.list(resource, namespace)
        ]
    if not since.isdigit():
        raise KubeError(400, f"invalid resourceVersion {since!r}")
    return store.changes_since(resource, namespace, int(since))


def _bookmark(resource: str, revision: int, *, initial_end: bool) -> Obj:
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": KINDS[resource], "apiVersion": API_VERSIONS[resource], "metadata": metadata}


async def serve_watch(
    request: web.Request, store: ObjectStore, resource: str, namespace: str | None
) -> web.StreamResponse:
    query = dict(request.query)
    timeout = min(float(query.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
    watcher = Watcher(resource, namespace)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    # Registered before the snapshot, with no await in between: no change is missed or doubled.
    store.watchers.add(watcher)
    try:
        try:
            initial = _initial(store, resource, namespace, query)
            error = None
        except KubeError as exc:
            if exc.code != 410:
                raise
            initial, error = [], exc
        response.enable_chunked_encoding()
        await response.prepare(request)
        if error is not None:
            await _send(response, "ERROR", error.status())
            return response
        for change in initial:
            if matches(change.object, query):
                await _send(response, change.type, change.object)
        if query.get("sendInitialEvents") == "true":
            await _send(response, "BOOKMARK", _bookmark(resource, store.revision, initial_end=True))
        deadline = asyncio.get_running_loop().time() + timeout
        for _ in range(1_000_000):  # bounded; the deadline normally ends the stream first
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    queued = await watcher.queue.get()
            except TimeoutError:
                break
            if queued is None:
                break
            if matches(queued.object, query):
                await _send(response, queued.type, queued.object)
        return response
    except ConnectionResetError:  # the client went away: the watch is over
        return response
    finally:
        store.watchers.discard(watcher)
