"""HorizontalPodAutoscalers (``autoscaling/v2``) of the fake Kubernetes API: the write paths
with the API server's rules (validation, ``resourceVersion`` preconditions, ``dryRun=All``,
injected faults) and a minimal controller.

The controller does what matters to firebreak and no more: it keeps the target Deployment's
``spec.replicas`` within ``minReplicas``..``maxReplicas`` (a raised minimum scales the
deployment up at once) and reports ``currentReplicas``/``desiredReplicas``. It reads no
metrics, so it never scales down on load, as a quiet service would not.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.kube.errors import KubeError, conflict, invalid
from tests.fakes.kube.faults import KubeFaults
from tests.fakes.kube.patch import apply_patch
from tests.fakes.kube.state import Obj, ObjectStore

RESOURCE = "horizontalpodautoscalers"
GROUP = "autoscaling"
KIND = "HorizontalPodAutoscaler"
API_VERSION = "autoscaling/v2"


def hpa_object(
    namespace: str,
    name: str,
    *,
    target: str,
    min_replicas: int,
    max_replicas: int,
    cpu_utilization: int = 70,
) -> Obj:
    """An HPA scaling Deployment ``target`` on CPU, as the shipped manifests declare it."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_utilization},
                    },
                }
            ],
        },
        "status": {},
    }


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_hpa(hpa: Obj) -> None:
    name = hpa["metadata"].get("name", "")
    spec = hpa.get("spec") or {}
    low: Any = spec.get("minReplicas", 1)
    high: Any = spec.get("maxReplicas")
    causes: list[tuple[str, str]] = []
    if not _whole(low) or low < 1:
        causes.append(("spec.minReplicas", f"Invalid value: {low}: must be greater than 0"))
    if not _whole(high) or high < 1:
        causes.append(("spec.maxReplicas", f"Invalid value: {high}: must be greater than 0"))
    elif _whole(low) and high < low:
        message = f"Invalid value: {high}: must be greater than or equal to `minReplicas`"
        causes.append(("spec.maxReplicas", message))
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind") or not ref.get("name"):
        causes.append(("spec.scaleTargetRef", "Required value"))
    if causes:
        raise invalid(KIND, GROUP, name, causes)


class Autoscalers:
    """Writes to HPAs, and the controller round that applies their bounds."""

    def __init__(self, store: ObjectStore, faults: KubeFaults) -> None:
        self.store = store
        self.faults = faults

    def create(self, hpa: Obj) -> Obj:
        validate_hpa(hpa)
        return self.store.create(RESOURCE, hpa)

    def patch(
        self, namespace: str, name: str, patch: Any, content_type: str, *, dry_run: bool
    ) -> Obj:
        current = self.store.get(RESOURCE, namespace, name)
        patched = apply_patch(current, patch, content_type)
        return self._write(current, patched, dry_run=dry_run)

    def replace(self, namespace: str, name: str, body: Any, *, dry_run: bool) -> Obj:
        current = self.store.get(RESOURCE, namespace, name)
        if not isinstance(body, dict):
            raise KubeError(400, f"the body of an update must be a {KIND} object")
        return self._write(current, body, dry_run=dry_run)

    def _write(self, current: Obj, body: Obj, *, dry_run: bool) -> Obj:
        meta = current["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        new_meta = body.get("metadata") or {}
        if new_meta.get("name", name) != name or new_meta.get("namespace", namespace) != namespace:
            raise KubeError(400, "the name or namespace of the object does not match the URL")
        wanted = new_meta.get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            raise conflict(RESOURCE, GROUP, name)
        self.faults.before_write(resource=RESOURCE, group=GROUP, name=name, dry_run=dry_run)
        updated = copy.deepcopy(body)
        updated["metadata"] = {**copy.deepcopy(meta), **copy.deepcopy(new_meta)}
        updated["metadata"].update(name=name, namespace=namespace)
        updated["status"] = copy.deepcopy(current.get("status", {}))
        updated.setdefault("spec", {}).setdefault("minReplicas", 1)
        validate_hpa(updated)
        if dry_run:
            updated["metadata"]["resourceVersion"] = meta["resourceVersion"]
            return updated
        return self.store.update(RESOURCE, updated)

    # -- the controller --------------------------------------------------------------------
    def step(self) -> None:
        for hpa in self.store.list(RESOURCE):
            self.sync(hpa)

    def sync(self, hpa: Obj) -> None:
        namespace = hpa["metadata"]["namespace"]
        spec = hpa["spec"]
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment":
            return
        deployment = self.store.find("deployments", namespace, ref.get("name", ""))
        if deployment is None:
            return
        current = deployment["spec"]["replicas"]
        wanted = max(spec.get("minReplicas", 1), min(spec["maxReplicas"], current))
        if wanted != current:
            deployment["spec"]["replicas"] = wanted
            self.store.update("deployments", deployment)
        status = {
            "currentReplicas": deployment.get("status", {}).get("replicas", 0),
            "desiredReplicas": wanted,
        }
        if hpa.get("status") != status:
            hpa["status"] = status
            self.store.update(RESOURCE, hpa)
