"""Server-side printing: ``kubectl get`` asks for ``application/json;as=Table`` and prints the
columns the API server sends, as for these resources upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.kube.objects import parse_timestamp, selector_string
from tests.fakes.kube.state import Obj

Row = list[Any]


def human_duration(seconds: float) -> str:
    """kubectl's short age format: 45s, 3m20s, 5h, 2d3h, ..."""
    s = int(seconds)
    if s < 0:
        return "0s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _column(
    name: str, type_: str = "string", *, priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def _age(obj: Obj, now: float, field: str = "creationTimestamp") -> str:
    value = obj["metadata"].get(field) if field == "creationTimestamp" else obj.get(field)
    return human_duration(now - parse_timestamp(value)) if value else "<unknown>"


def _containers(obj: Obj) -> list[Any]:
    return [
        ",".join(c["name"] for c in obj["spec"]["template"]["spec"].get("containers", [])),
        ",".join(c.get("image", "") for c in obj["spec"]["template"]["spec"].get("containers", [])),
        selector_string(obj["spec"]["selector"]),
    ]


def _deployment(obj: Obj, now: float) -> Row:
    status = obj.get("status", {})
    ready = f"{status.get('readyReplicas', 0)}/{obj['spec']['replicas']}"
    return [
        obj["metadata"]["name"],
        ready,
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        *_containers(obj),
    ]


def _replicaset(obj: Obj, now: float) -> Row:
    status = obj.get("status", {})
    return [
        obj["metadata"]["name"],
        obj["spec"]["replicas"],
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        *_containers(obj),
    ]


def _pod(obj: Obj, now: float) -> Row:
    status = obj.get("status", {})
    containers = status.get("containerStatuses", [])
    reason = status.get("phase", "Unknown")
    for container in containers:
        waiting = container.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    return [
        obj["metadata"]["name"],
        f"{sum(bool(c.get('ready')) for c in containers)}/{len(obj['spec'].get('containers', []))}",
        reason,
        str(sum(int(c.get("restartCount", 0)) for c in containers)),
        _age(obj, now),
        status.get("podIP", "<none>"),
        obj["spec"].get("nodeName", "<none>"),
        "<none>",
        "<none>",
    ]


def _event(obj: Obj, now: float) -> Row:
    involved = obj["involvedObject"]
    return [
        _age(obj, now, "lastTimestamp"),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        obj.get("source", {}).get("component", ""),
        obj.get("message", ""),
        _age(obj, now, "firstTimestamp"),
        obj.get("count", 1),
        obj["metadata"]["name"],
    ]


def _hpa(obj: Obj, now: float) -> Row:
    spec, status = obj["spec"], obj.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    return [
        obj["metadata"]["name"],
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        "<unknown>/70%",
        spec.get("minReplicas", 1),
        spec["maxReplicas"],
        status.get("currentReplicas", 0),
        _age(obj, now),
    ]


_WIDE = [
    _column("Containers", priority=1),
    _column("Images", priority=1),
    _column("Selector", priority=1),
]
TABLES: dict[str, tuple[list[dict[str, Any]], Callable[[Obj, float], Row]]] = {
    "deployments": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _column("Age"),
            *_WIDE,
        ],
        _deployment,
    ),
    "replicasets": (
        [
            _column("Name", fmt="name"),
            _column("Desired", "integer"),
            _column("Current", "integer"),
            _column("Ready", "integer"),
            _column("Age"),
            *_WIDE,
        ],
        _replicaset,
    ),
    "pods": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Status"),
            _column("Restarts"),
            _column("Age"),
            _column("IP", priority=1),
            _column("Node", priority=1),
            _column("Nominated Node", priority=1),
            _column("Readiness Gates", priority=1),
        ],
        _pod,
    ),
    "events": (
        [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Subobject", priority=1),
            _column("Source", priority=1),
            _column("Message"),
            _column("First Seen", priority=1),
            _column("Count", "integer", priority=1),
            _column("Name", priority=1, fmt="name"),
        ],
        _event,
    ),
    "horizontalpodautoscalers": (
        [
            _column("Name", fmt="name"),
            _column("Reference"),
            _column("Targets"),
            _column("MinPods", "integer"),
            _column("MaxPods", "integer"),
            _column("Replicas", "integer"),
            _column("Age"),
        ],
        _hpa,
    ),
}


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in accept.split(","))


def table(
    resource: str, objects: list[Obj], *, now: float, resource_version: str, include: str
) -> Obj:
    """A ``meta.k8s.io/v1`` Table; rows carry the object as ``include`` asks (``Metadata``
    by default, ``Object`` or ``None``)."""
    columns, cells = TABLES[resource]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": cells(obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
