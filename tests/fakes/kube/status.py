"""The Deployment status the fake controller writes: replica counts and the Available and
Progressing conditions, with the progress deadline judged as upstream does."""

from __future__ import annotations

import copy
import math
from typing import Any

from tests.fakes.kube.objects import owned_by, parse_timestamp, timestamp
from tests.fakes.kube.pods import is_ready, pods_of
from tests.fakes.kube.state import Obj, ObjectStore

AVAILABLE = "Available"
PROGRESSING = "Progressing"
TIMED_OUT = "ProgressDeadlineExceeded"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


def _max_unavailable(deployment: Obj) -> int:
    spec = deployment["spec"]
    desired = spec["replicas"]
    value = (spec.get("strategy", {}).get("rollingUpdate") or {}).get("maxUnavailable", 0)
    if isinstance(value, str) and value.endswith("%"):
        return min(int(desired), math.floor(int(value[:-1]) * int(desired) / 100))
    return min(int(desired), int(value or 0))


def _find(conditions: list[Obj], kind: str) -> Obj | None:
    return next((c for c in conditions if c["type"] == kind), None)


def _set(
    conditions: list[Obj], kind: str, status: str, reason: str, message: str, now: str
) -> None:
    """Upstream's SetDeploymentCondition: a condition with the same status and reason is
    left alone; otherwise it is replaced (moving to the end)."""
    current = _find(conditions, kind)
    if current is not None and current["status"] == status and current["reason"] == reason:
        return
    _replace(conditions, kind, status, reason, message, now, transition=now)


def _replace(
    conditions: list[Obj],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    transition: str,
) -> None:
    conditions[:] = [c for c in conditions if c["type"] != kind]
    conditions.append(
        {
            "type": kind,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
    )


def _progressed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def count(status: dict[str, Any], field: str) -> int:
        return int(status.get(field, 0))

    old_others = count(old, "replicas") - count(old, "updatedReplicas")
    new_others = count(new, "replicas") - count(new, "updatedReplicas")
    return (
        count(new, "updatedReplicas") > count(old, "updatedReplicas")
        or new_others < old_others
        or count(new, "readyReplicas") > count(old, "readyReplicas")
        or count(new, "availableReplicas") > count(old, "availableReplicas")
    )


def sync_status(
    store: ObjectStore, deployment: Obj, new: Obj | None, *, started: str | None = None
) -> None:
    """Write ``deployment.status``; ``started`` is the Progressing reason to record when this
    round created (``NewReplicaSetCreated``) or re-adopted (``FoundNewReplicaSet``) ``new``."""
    deployment = store.get(
        "deployments", deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    )
    namespace = deployment["metadata"]["namespace"]
    replicasets = [rs for rs in store.list("replicasets", namespace) if owned_by(rs, deployment)]
    pods = {rs["metadata"]["uid"]: pods_of(store, rs) for rs in replicasets}
    desired = deployment["spec"]["replicas"]
    total = sum(len(p) for p in pods.values())
    updated = len(pods.get(new["metadata"]["uid"], [])) if new is not None else 0
    ready = sum(is_ready(pod) for p in pods.values() for pod in p)
    old_status = deployment.get("status", {})
    status: dict[str, Any] = {"observedGeneration": deployment["metadata"]["generation"]}
    # Zero counts are left out, as the API server's omitempty does.
    for field, value in (
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
        ("unavailableReplicas", max(0, desired - ready)),
    ):
        if value:
            status[field] = value
    conditions = copy.deepcopy(old_status.get("conditions", []))
    now = timestamp(store.clock())
    if ready >= desired - _max_unavailable(deployment):
        _set(
            conditions,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        _set(
            conditions,
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    _progress(deployment, new, conditions, old_status, status, now=now, started=started)
    status["conditions"] = conditions
    if status != old_status:
        deployment["status"] = status
        store.update("deployments", deployment)


def _progress(
    deployment: Obj,
    new: Obj | None,
    conditions: list[Obj],
    old_status: dict[str, Any],
    status: dict[str, Any],
    *,
    now: str,
    started: str | None,
) -> None:
    current = _find(conditions, PROGRESSING)
    if deployment["spec"].get("paused"):
        if current is None or current["reason"] != PAUSED:
            _replace(
                conditions,
                PROGRESSING,
                "Unknown",
                PAUSED,
                "Deployment is paused",
                now,
                transition=now,
            )
        return
    if current is not None and current["reason"] == PAUSED:
        _replace(
            conditions,
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed",
            now,
            transition=now,
        )
        current = _find(conditions, PROGRESSING)
    if new is None:
        return
    name = new["metadata"]["name"]
    desired = deployment["spec"]["replicas"]
    complete = (
        status.get("updatedReplicas", 0) == desired
        and status.get("replicas", 0) == desired
        and status.get("availableReplicas", 0) == desired
    )
    if started == "NewReplicaSetCreated":
        _set(conditions, PROGRESSING, "True", started, f'Created new replica set "{name}"', now)
    elif started is not None:
        _set(conditions, PROGRESSING, "True", started, f'Found new replica set "{name}"', now)
    elif complete:
        _set(
            conditions,
            PROGRESSING,
            "True",
            NEW_RS_AVAILABLE,
            f'ReplicaSet "{name}" has successfully progressed.',
            now,
        )
    elif _progressed(old_status, status):
        transition = (
            current["lastTransitionTime"] if current and current["status"] == "True" else now
        )
        message = f'ReplicaSet "{name}" is progressing.'
        _replace(
            conditions,
            PROGRESSING,
            "True",
            "ReplicaSetUpdated",
            message,
            now,
            transition=transition,
        )
    elif _timed_out(deployment, current, now):
        message = f'ReplicaSet "{name}" has timed out progressing.'
        _set(conditions, PROGRESSING, "False", TIMED_OUT, message, now)


def _timed_out(deployment: Obj, current: Obj | None, now: str) -> bool:
    if current is None or current["reason"] == NEW_RS_AVAILABLE:
        return False
    if current["reason"] == TIMED_OUT:
        return True
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    if deadline is None:
        return False
    return parse_timestamp(current["lastUpdateTime"]) + float(deadline) < parse_timestamp(now)
