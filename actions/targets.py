"""The actuator's own guard on targets, behind the policy's checks in the core: a bug or a
permissive policy must still never reach the cluster's system namespaces."""

from __future__ import annotations

import re

from bot.domain.remediation import DeploymentRef
from bot.errors import BadRequest, Forbidden

# kube-system never; the other two hold no workloads firebreak could mean.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_target(target: DeploymentRef) -> DeploymentRef:
    """``target`` when the actuator may touch it; ``Forbidden`` for a system namespace,
    ``BadRequest`` for names Kubernetes would not accept (namespace: DNS-1123 label,
    deployment: DNS-1123 subdomain)."""
    if target.namespace in SYSTEM_NAMESPACES:
        raise Forbidden(f"namespace {target.namespace} is never touched by firebreak")
    if len(target.namespace) > 63 or not _LABEL.fullmatch(target.namespace):
        raise BadRequest(f"{target.namespace!r} is not a valid namespace name (DNS-1123 label)")
    if len(target.name) > 253 or not _SUBDOMAIN.fullmatch(target.name):
        raise BadRequest(f"{target.name!r} is not a valid deployment name (DNS-1123 subdomain)")
    return target
