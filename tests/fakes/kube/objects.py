"""Object shapes of the fake Kubernetes API: defaults the API server applies, the pod template
hash, revisions, label and field selectors, timestamps."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

from tests.fakes.kube.errors import bad_request

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"
# Deployment annotations the controller does not copy onto its ReplicaSets (as upstream).
NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
# Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def timestamp(epoch: float) -> str:
    """RFC 3339 with second precision, UTC, as Kubernetes writes ``metav1.Time``."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def prune_nulls(value: Any) -> Any:
    """Drop ``null`` members, as decoding into typed Go structs does (``creationTimestamp:
    null`` in a pod template that kubectl sends back, for example)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(item) for item in value]
    return value


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def default_pod_template(template: dict[str, Any]) -> dict[str, Any]:
    """The API server's defaults for a pod template (so equal templates compare equal)."""
    template = prune_nulls(copy.deepcopy(template))
    template.setdefault("metadata", {})
    spec = template.setdefault("spec", {})
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            _default_container(container)
    for container in spec.get("initContainers") or []:
        if isinstance(container, dict):
            _default_container(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    return template


def default_deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    deployment = prune_nulls(copy.deepcopy(deployment))
    deployment["apiVersion"], deployment["kind"] = "apps/v1", "Deployment"
    deployment.setdefault("metadata", {})
    spec = deployment.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec["template"] = default_pod_template(spec.get("template") or {})
    deployment.setdefault("status", {})
    return deployment


def template_without_hash(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    labels = template.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            del template["metadata"]["labels"]
    return template


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _canonical(template_without_hash(a)) == _canonical(template_without_hash(b))


def _canonical(value: Any) -> str:
    return json.dumps(prune_nulls(value), sort_keys=True, separators=(",", ":"))


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """A short, stable, name-safe digest of a pod template (FNV-1a 32, like upstream)."""
    digest = 0x811C9DC5
    data = _canonical(template_without_hash(template)) + str(collision_count)
    for byte in data.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[int(char) % len(SAFE_ALPHABET)] for char in str(digest))


def revision(obj: dict[str, Any]) -> int:
    value = obj.get("metadata", {}).get("annotations", {}).get(REVISION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in obj.get("metadata", {}).get("ownerReferences", [])
    )


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


# -- selectors -----------------------------------------------------------------------------
_REQUIREMENT = re.compile(
    r"^\s*(?P<key>[A-Za-z0-9./_-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """A ``labelSelector`` query string (``a=b,c!=d,e in (f,g),!h,i``) against labels."""
    for requirement in _split_selector(selector):
        text = requirement.strip()
        if text.startswith("!"):
            if text[1:].strip() in labels:
                return False
            continue
        match = _REQUIREMENT.match(text)
        if match is None:
            raise bad_request(f"unable to parse requirement: {text!r}")
        key, op = match["key"], match["op"] or match["set"]
        if op in ("=", "=="):
            ok = labels.get(key) == match["value"]
        elif op == "!=":
            ok = labels.get(key) != match["value"]
        elif op in ("in", "notin"):
            values = {v.strip() for v in match["values"].split(",")}
            ok = (labels.get(key) in values) == (op == "in")
        else:
            ok = key in labels
        if not ok:
            return False
    return True


def selector_string(selector: dict[str, Any]) -> str:
    """A ``LabelSelector`` object (matchLabels, matchExpressions) as a query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


def _field(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def field_selector_matches(selector: str, obj: dict[str, Any]) -> bool:
    """A ``fieldSelector`` (``metadata.name=x,involvedObject.kind!=Pod``) against an object."""
    for requirement in _split_selector(selector):
        text = requirement.strip()
        negate = "!=" in text
        key, _, value = text.partition("!=" if negate else "=")
        value = value.lstrip("=")
        if not key:
            raise bad_request(f"invalid field selector: {selector!r}")
        if (_field(obj, key.strip()) == value.strip()) == negate:
            return False
    return True
