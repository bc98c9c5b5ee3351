"""Writes to Deployments and their scale subresource, with the API server's rules: defaults,
validation (422), immutable selector, ``metadata.resourceVersion`` preconditions (409),
``dryRun=All`` (validated, answered, not stored) and injected faults."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fakes.kube.errors import KubeError, conflict, invalid
from tests.fakes.kube.faults import KubeFaults
from tests.fakes.kube.objects import (
    default_deployment,
    label_selector_matches,
    owned_by,
    selector_string,
)
from tests.fakes.kube.patch import apply_patch
from tests.fakes.kube.state import Obj, ObjectStore

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def _go_map(labels: dict[str, str]) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return f"map[string]string{{{inner}}}"


def validate_deployment(deployment: Obj) -> None:
    meta, spec = deployment["metadata"], deployment["spec"]
    name = meta.get("name", "")
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(
            ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
        )
    selector = spec.get("selector") or {}
    labels = spec["template"].get("metadata", {}).get("labels") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        causes.append(("spec.selector", "Required value"))
    elif not label_selector_matches(selector_string(selector), labels):
        causes.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    containers = spec["template"].get("spec", {}).get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    for index, container in enumerate(containers):
        for field in ("name", "image"):
            if not container.get(field):
                causes.append((f"spec.template.spec.containers[{index}].{field}", "Required value"))
    strategy = spec.get("strategy", {})
    if strategy.get("type") not in ("RollingUpdate", "Recreate"):
        causes.append(
            (
                "spec.strategy.type",
                f'Unsupported value: "{strategy.get("type")}": supported values: "Recreate", "RollingUpdate"',
            )
        )
    elif strategy["type"] == "Recreate" and strategy.get("rollingUpdate"):
        causes.append(
            (
                "spec.strategy.rollingUpdate",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            )
        )
    if causes:
        raise invalid("Deployment", "apps", name, causes)


def scale_of(deployment: Obj) -> Obj:
    """The deployment's ``scale`` subresource (kind Scale, autoscaling/v1)."""
    meta = deployment["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {
            "replicas": deployment.get("status", {}).get("replicas", 0),
            "selector": selector_string(deployment["spec"]["selector"]),
        },
    }


class Deployments:
    """The write paths of ``apps/v1`` deployments; reads go straight to the store."""

    def __init__(self, store: ObjectStore, faults: KubeFaults) -> None:
        self.store = store
        self.faults = faults

    def create(self, namespace: str, body: Any, *, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise KubeError(400, "the body of a create must be a Deployment object")
        deployment = default_deployment(body)
        deployment["metadata"]["namespace"] = namespace
        deployment["status"] = {}
        for field in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            deployment["metadata"].pop(field, None)
        validate_deployment(deployment)
        name = deployment["metadata"]["name"]
        self.faults.before_write(resource="deployments", group="apps", name=name, dry_run=dry_run)
        if self.store.find("deployments", namespace, name) is not None or not dry_run:
            return self.store.create("deployments", deployment)
        deployment["metadata"].update(generation=1, uid="", resourceVersion="")
        return deployment

    def replace(self, namespace: str, name: str, body: Any, *, dry_run: bool) -> Obj:
        current = self.store.get("deployments", namespace, name)
        if not isinstance(body, dict):
            raise KubeError(400, "the body of an update must be a Deployment object")
        return self._write(current, body, dry_run=dry_run)

    def patch(
        self, namespace: str, name: str, patch: Any, content_type: str, *, dry_run: bool
    ) -> Obj:
        current = self.store.get("deployments", namespace, name)
        patched = apply_patch(current, patch, content_type)
        return self._write(current, patched, dry_run=dry_run)

    def scale(self, namespace: str, name: str) -> Obj:
        return scale_of(self.store.get("deployments", namespace, name))

    def replace_scale(self, namespace: str, name: str, body: Any, *, dry_run: bool) -> Obj:
        current = self.store.get("deployments", namespace, name)
        if not isinstance(body, dict):
            raise KubeError(400, "the body of an update must be a Scale object")
        return self._write_scale(current, body, dry_run=dry_run)

    def patch_scale(
        self, namespace: str, name: str, patch: Any, content_type: str, *, dry_run: bool
    ) -> Obj:
        current = self.store.get("deployments", namespace, name)
        patched = apply_patch(scale_of(current), patch, content_type)
        return self._write_scale(current, patched, dry_run=dry_run)

    def delete(self, namespace: str, name: str, *, dry_run: bool) -> Obj:
        """Delete the deployment with its ReplicaSets and their pods (background cascade)."""
        deployment = self.store.get("deployments", namespace, name)
        self.faults.before_write(resource="deployments", group="apps", name=name, dry_run=dry_run)
        if dry_run:
            return deployment
        for rs in self.store.list("replicasets", namespace):
            if owned_by(rs, deployment):
                for pod in self.store.list("pods", namespace):
                    if owned_by(pod, rs):
                        self.store.delete("pods", namespace, pod["metadata"]["name"])
                self.store.delete("replicasets", namespace, rs["metadata"]["name"])
        return self.store.delete("deployments", namespace, name)

    # -- shared ----------------------------------------------------------------------------
    def _write_scale(self, current: Obj, scale: Obj, *, dry_run: bool) -> Obj:
        name = current["metadata"]["name"]
        wanted = scale.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise conflict("deployments", "apps", name)
        replicas = scale.get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            message = f"Invalid value: {replicas}: must be greater than or equal to 0"
            raise invalid("Scale", "autoscaling", name, [("spec.replicas", message)])
        updated = copy.deepcopy(current)
        updated["spec"]["replicas"] = replicas
        return scale_of(self._write(current, updated, dry_run=dry_run))

    def _write(self, current: Obj, body: Obj, *, dry_run: bool) -> Obj:
        meta = current["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        new_meta = body.get("metadata") or {}
        if new_meta.get("name", name) != name:
            raise KubeError(
                400,
                f"the name of the object ({new_meta.get('name')}) does not match the name on "
                f"the URL ({name})",
            )
        if new_meta.get("namespace", namespace) != namespace:
            raise KubeError(
                400,
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        wanted = new_meta.get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            raise conflict("deployments", "apps", name)
        self.faults.before_write(resource="deployments", group="apps", name=name, dry_run=dry_run)
        updated = default_deployment(body)
        updated["metadata"].update(name=name, namespace=namespace)
        # Writes to the main resource ignore status, as on a real API server.
        updated["status"] = copy.deepcopy(current.get("status", {}))
        validate_deployment(updated)
        if updated["spec"]["selector"] != current["spec"]["selector"]:
            raise invalid(
                "Deployment",
                "apps",
                name,
                [
                    (
                        "spec.selector",
                        f"Invalid value: {updated['spec']['selector']}: field is immutable",
                    )
                ],
            )
        if not dry_run:
            return self.store.update("deployments", updated)
        for field in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            updated["metadata"][field] = meta[field]
        if updated["spec"] != current["spec"]:
            updated["metadata"]["generation"] = meta["generation"] + 1
        return updated
