"""What a suggested action or a typed ``/incident`` command acts on, resolved from the
incident's alerts: the one function the card, its buttons and the commands share, so they
cannot disagree.

The rule, per part of the target:

* the namespace: the first of the scenario's ``target_labels.namespace`` labels (default
  ``namespace``) present on the incident's alerts, else the action's own ``namespace`` in the
  policy, else ``kubernetes.default_namespace``;
* the deployment: the first of ``target_labels.deployment`` (default ``deployment``) present
  on the alerts, else the action's own ``deployment``, else none (the action cannot be
  requested and says so).

The alerts are read in the incident's order (earliest first); when they disagree (two
namespaces), the first alert carrying the label wins and ``note`` says which values were
seen, so the card can show it. A label value that is not a valid name is kept as it is, not
skipped: the request is then refused with the reason, instead of silently acting on a
fallback the alert did not name. Whether the namespace may be acted on at all is the
allow-list's business (``bot.services.remediation.rules``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.target import is_dns1123_label, is_dns1123_subdomain, is_system_namespace
from bot.policy.kubernetes import KubernetesPolicy, TargetLabels
from bot.policy.model import Scenario, SuggestedAction
from bot.policy.templates import is_safe_value

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved target: ``namespace``/``deployment`` are ``None`` when nothing names one;
    ``note`` explains a disagreement between alerts (empty when there is none)."""

    namespace: str | None
    deployment: str | None
    note: str = ""

    def __str__(self) -> str:
        return f"{self.namespace or '?'}/deploy/{self.deployment or '?'}"


def _from_labels(names: Sequence[str], alerts: Sequence[Labels]) -> tuple[str | None, list[str]]:
    """The first alert's value of the first of ``names`` it carries, and every distinct
    value the alerts give (in order)."""
    seen: list[str] = []
    for labels in alerts:
        for name in names:
            value = labels.get(name)
            if value:
                if value not in seen:
                    seen.append(value)
                break
    return (seen[0] if seen else None), seen


def _disagreement(what: str, seen: Sequence[str]) -> str:
    if len(seen) < 2:
        return ""
    return f"the alerts name {len(seen)} {what}s ({', '.join(seen)}): using {seen[0]}, the first alert's"


def resolve_target(
    kubernetes: KubernetesPolicy,
    scenario: Scenario | None,
    action: SuggestedAction | None,
    alerts: Sequence[Labels],
) -> Resolved:
    """The target of ``action`` (or of a typed command, ``action=None``) for an incident
    whose alerts carry ``alerts`` labels, earliest first."""
    wanted = scenario.target_labels if scenario is not None else TargetLabels()
    namespace, namespaces = _from_labels(wanted.namespace, alerts)
    deployment, deployments = _from_labels(wanted.deployment, alerts)
    if namespace is None:
        namespace = (action.namespace if action else None) or (kubernetes.default_namespace or None)
    if deployment is None and action is not None:
        deployment = action.deployment
    notes = [_disagreement("namespace", namespaces), _disagreement("deployment", deployments)]
    return Resolved(namespace, deployment, "; ".join(n for n in notes if n))


def scenario_target(
    kubernetes: KubernetesPolicy, scenario: Scenario, alerts: Sequence[Labels]
) -> Resolved:
    """The target a scenario's triage steps are about: as its first action naming a
    deployment would resolve (so the steps and the buttons agree), or from the alerts."""
    named = [action for action in scenario.actions if action.deployment]
    return resolve_target(kubernetes, scenario, named[0] if named else None, alerts)


def template_values(
    kubernetes: KubernetesPolicy, target: Resolved, labels: Labels
) -> dict[str, str]:
    """What a triage template may be filled with: the alert's labels whose values are safe
    shell words, the resolved namespace and deployment when they are valid names, and the
    policy's selector for the deployment (checked when the policy was loaded)."""
    values = {name: value for name, value in labels.items() if is_safe_value(value)}
    for name in ("namespace", "deployment", "selector"):
        values.pop(name, None)
    ns = target.namespace
    if ns is not None and is_dns1123_label(ns) and not is_system_namespace(ns):
        values["namespace"] = ns
    deployment = target.deployment
    if deployment is not None and is_dns1123_subdomain(deployment):
        values["deployment"] = deployment
        selector = kubernetes.selectors.get(deployment)
        if selector:
            values["selector"] = selector
    return values
