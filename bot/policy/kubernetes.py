"""The policy's ``kubernetes`` section: where actions may act and how to find a deployment's
pods, plus the small parsers its checks share (label names, label selectors).

``namespaces`` is the allow-list: the only namespaces an action (or a diagnose) may touch,
whatever an alert's labels or a typed ``-n`` say. ``kube-*`` never, even if listed (the
policy check refuses it, and ``bot.domain.target`` refuses it again at request time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# A Prometheus label name (what a template placeholder or a target label may name).
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# A Kubernetes label key (optional DNS-subdomain prefix and "/") and value, as in a selector.
_KEY_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/"
_SELECTOR_TERM = re.compile(rf"((?:{_PREFIX})?{_KEY_NAME})=({_KEY_NAME})", re.ASCII)


@dataclass(frozen=True, slots=True)
class TargetLabels:
    """Which alert labels name an action's target, first present wins (a scenario may say
    ``target_labels: {deployment: [app, deployment]}``)."""

    namespace: tuple[str, ...] = ("namespace",)
    deployment: tuple[str, ...] = ("deployment",)


@dataclass(frozen=True, slots=True)
class KubernetesPolicy:
    """The allow-list of namespaces, the namespace used when nothing names one, and the pod
    label selector of each deployment (the ``{selector}`` of triage templates)."""

    namespaces: tuple[str, ...] = ()
    default_namespace: str = ""
    selectors: Mapping[str, str] = field(default_factory=dict)

    def allows(self, namespace: str) -> bool:
        """Whether ``namespace`` is in the allow-list (``kube-*`` is refused elsewhere,
        whatever the list says)."""
        return namespace in self.namespaces

    def allow_list(self) -> str:
        """The allow-list as people read it in a refusal."""
        return ", ".join(self.namespaces) if self.namespaces else "none"


def check_selector(text: str) -> str:
    """``text`` when it is ``key=value[,key=value]`` with valid label keys and values;
    ``ValueError`` otherwise. Selectors end up in commands people paste into a shell, so
    nothing else (spaces, quotes, ``!``, set-based terms) is accepted."""
    terms = text.split(",")
    for term in terms:
        if _SELECTOR_TERM.fullmatch(term) is None:
            raise ValueError(
                f"selector {text!r} is not key=value[,key=value] (label keys and values: "
                "letters, digits, '-', '_', '.', a key may have a 'prefix/')"
            )
    return text
