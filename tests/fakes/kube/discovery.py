"""Discovery documents of the fake Kubernetes API in the classic (unaggregated) format, which
kubectl accepts when the server does not answer with aggregated discovery."""

from __future__ import annotations

from typing import Any

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _resource(
    name: str,
    kind: str,
    verbs: list[str],
    *,
    namespaced: bool = True,
    short: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "singularName": "" if "/" in name else kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
        **extra,
    }
    if short:
        entry["shortNames"] = short
    if "/" not in name and name != "namespaces":
        entry["categories"] = ["all"] if name != "events" else []
        if not entry["categories"]:
            del entry["categories"]
    return entry


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_groups() -> dict[str, Any]:
    apps = {"groupVersion": "apps/v1", "version": "v1"}
    autoscaling = {"groupVersion": "autoscaling/v2", "version": "v2"}
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {"name": "apps", "versions": [apps], "preferredVersion": apps},
            {"name": "autoscaling", "versions": [autoscaling], "preferredVersion": autoscaling},
        ],
    }


def core_v1() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            _resource("events", "Event", _WRITE, short=["ev"]),
            _resource(
                "namespaces", "Namespace", ["get", "list", "watch"], namespaced=False, short=["ns"]
            ),
            _resource("pods", "Pod", _WRITE, short=["po"]),
            _resource("pods/status", "Pod", ["get"]),
        ],
    }


def apps_v1() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            _resource("deployments", "Deployment", _WRITE, short=["deploy"]),
            _resource(
                "deployments/scale",
                "Scale",
                ["get", "patch", "update"],
                group="autoscaling",
                version="v1",
            ),
            _resource("deployments/status", "Deployment", ["get"]),
            _resource("replicasets", "ReplicaSet", _READ, short=["rs"]),
        ],
    }


def autoscaling_v2() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "autoscaling/v2",
        "resources": [
            _resource(
                "horizontalpodautoscalers",
                "HorizontalPodAutoscaler",
                _WRITE,
                short=["hpa"],
            ),
            _resource("horizontalpodautoscalers/status", "HorizontalPodAutoscaler", ["get"]),
        ],
    }


def namespace_object(name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
