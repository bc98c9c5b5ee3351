"""Typed reads from Kubernetes objects kept as the API's own JSON (dicts).

The actuator works on the raw JSON rather than the generated models so that a pod template is
copied back into a deployment exactly as the server returned it, and so that an object the
models would reject (a missing field) does not stop a read-only look.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"


def mapping(obj: object, *path: str) -> JsonObject:
    """The dict at ``path`` inside ``obj``, or an empty dict when any step is missing."""
    current: object = obj
    for key in path:
        if not isinstance(current, dict):
            return {}
        current = current.get(key)
    return current if isinstance(current, dict) else {}


def items(obj: object) -> list[JsonObject]:
    """The ``items`` of a list response, keeping only objects."""
    found = obj.get("items") if isinstance(obj, dict) else None
    return [item for item in found or [] if isinstance(item, dict)]


def integer(obj: object, *path: str, default: int = 0) -> int:
    """The integer at ``path`` (``default`` when missing or not an integer)."""
    *parents, last = path
    value = mapping(obj, *parents).get(last)
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def text(obj: object, *path: str) -> str | None:
    *parents, last = path
    value = mapping(obj, *parents).get(last)
    return value if isinstance(value, str) else None


def annotation(obj: object, key: str) -> str | None:
    value = mapping(obj, "metadata", "annotations").get(key)
    return value if isinstance(value, str) else None


def revision_of(obj: object) -> int | None:
    """``deployment.kubernetes.io/revision`` of a Deployment or ReplicaSet, None if unset or
    not a number (kubectl skips such ReplicaSets when it looks for a revision)."""
    value = annotation(obj, REVISION_ANNOTATION)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def desired_replicas(deployment: JsonObject) -> int:
    """``spec.replicas``; the API defaults a missing value to 1."""
    return integer(deployment, "spec", "replicas", default=1)


def is_controlled_by(obj: JsonObject, owner: JsonObject) -> bool:
    """True when ``obj`` has a controller owner reference to ``owner`` (matched by uid)."""
    uid = text(owner, "metadata", "uid")
    refs = mapping(obj, "metadata").get("ownerReferences") or []
    return uid is not None and any(
        isinstance(ref, dict) and ref.get("uid") == uid and ref.get("controller") is True
        for ref in refs
    )
