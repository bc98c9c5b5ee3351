"""What a remediation acts on: one ``Target`` value type and the one place that says which
targets are valid. The policy file, the Slack command parser, the request use case and the
actuator all validate through ``check_target``, so no two layers can disagree.

The rules:

* a namespace is a DNS-1123 label (Kubernetes' rule for namespace names);
* a deployment name is a DNS-1123 subdomain (Kubernetes' rule for Deployment names), read
  strictly: every dot-separated label is itself a DNS-1123 label of at most 63 characters, so
  whatever passes here the API server accepts too;
* no namespace starting with ``kube-`` is ever a target. Kubernetes reserves the prefix for
  its own namespaces (``kube-system``, ``kube-public``, ``kube-node-lease``, and any it adds
  later), none of which holds a workload firebreak could mean. This is the strictest of the
  three definitions the layers used to have, and it needs no list to keep up to date.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.errors import BadRequest, Forbidden

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
SYSTEM_NAMESPACE_PREFIX = "kube-"

# ASCII only: ``re`` would let ``\w``-like classes match other scripts, these never do.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)


class TargetKind(enum.StrEnum):
    """The kinds of object a remediation may act on (one so far)."""

    DEPLOYMENT = "deployment"


def is_dns1123_label(name: str) -> bool:
    """A namespace name: lowercase alphanumerics and ``-``, at most 63 characters."""
    return len(name) <= LABEL_MAX and _LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """A deployment name: dot-separated DNS-1123 labels, at most 253 characters."""
    return 0 < len(name) <= SUBDOMAIN_MAX and all(
        is_dns1123_label(part) for part in name.split(".")
    )


def is_system_namespace(namespace: str) -> bool:
    """``kube-system`` and every other ``kube-*`` namespace Kubernetes reserves for itself."""
    return namespace.startswith(SYSTEM_NAMESPACE_PREFIX)


def check_namespace(namespace: str) -> str:
    """``namespace`` when it may be acted on; ``BadRequest`` when Kubernetes would not accept
    the name, ``Forbidden`` for a system namespace."""
    if not is_dns1123_label(namespace):
        raise BadRequest(f"namespace {namespace!r} is not a DNS-1123 label")
    if is_system_namespace(namespace):
        raise Forbidden(f"firebreak never acts on the system namespace {namespace}")
    return namespace


def check_name(name: str, kind: TargetKind = TargetKind.DEPLOYMENT) -> str:
    """``name`` when Kubernetes accepts it for ``kind``; ``BadRequest`` otherwise."""
    if not is_dns1123_subdomain(name):
        raise BadRequest(f"{kind.value} name {name!r} is not a DNS-1123 subdomain")
    return name


@dataclass(frozen=True, slots=True)
class Target:
    """An object in a namespace. Constructing one does not validate it (stored rows and
    tests build them freely); ``check_target`` and ``Target.checked`` do."""

    namespace: str
    name: str
    kind: TargetKind = TargetKind.DEPLOYMENT

    def __str__(self) -> str:
        return f"{self.namespace}/deploy/{self.name}"

    @classmethod
    def checked(cls, namespace: str, name: str, kind: TargetKind = TargetKind.DEPLOYMENT) -> Target:
        """A validated target, or ``BadRequest``/``Forbidden`` (see ``check_target``)."""
        return check_target(cls(namespace, name, kind))


def check_target(target: Target) -> Target:
    """``target`` when firebreak may act on it: the namespace is checked first (its name,
    then whether it is a system namespace), then the object's name."""
    check_namespace(target.namespace)
    check_name(target.name, target.kind)
    return target
