"""What may be asked for and who may approve it: target and argument validation against the
runbook policy, and approver checks. Pure functions plus one ``Directory`` lookup.

Which targets the policy allows. The policy's suggested actions are the allow-list, read
across all of its scenarios, not only the incident's: an incident classified "high latency"
may turn out to need the rollback the "service down" scenario suggests for the same
deployment, and responders should not have to reclassify first. So:

* a deployment is a target only if some scenario suggests an action on it (in its namespace);
* a mutating verb is allowed on it only if some scenario suggests that verb on it;
* ``diagnose`` (read-only) is allowed on every target the policy names;
* when several scenarios suggest the same verb on the same target, their limits combine
  strictly: the narrowest replica bounds, the most approvals, and every ``approvers`` list
  must admit the approver;
* ``kube-system`` (and the other ``kube-*`` system namespaces) never, whatever the policy says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.incident import Actor, Severity
from bot.domain.remediation import ActionVerb, DeploymentRef
from bot.errors import BadRequest, Forbidden
from bot.policy.model import Policy
from bot.ports import Directory

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_MAX = 63
_SUBDOMAIN_MAX = 253


def is_dns1123_label(name: str) -> bool:
    """A namespace name: lowercase alphanumerics and ``-``, at most 63 characters."""
    return len(name) <= _LABEL_MAX and _LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """A deployment name: dot-separated DNS-1123 labels, at most 253 characters."""
    return 0 < len(name) <= _SUBDOMAIN_MAX and all(
        is_dns1123_label(part) for part in name.split(".")
    )


def is_protected_namespace(namespace: str) -> bool:
    return namespace == "kube-system" or namespace.startswith("kube-")


def validate_target(namespace: str, name: str) -> DeploymentRef:
    """A well-formed target outside the system namespaces, or ``BadRequest``/``Forbidden``."""
    if not is_dns1123_label(namespace):
        raise BadRequest(f"namespace {namespace!r} is not a DNS-1123 label")
    if not is_dns1123_subdomain(name):
        raise BadRequest(f"deployment name {name!r} is not a DNS-1123 subdomain")
    if is_protected_namespace(namespace):
        raise Forbidden(f"firebreak never acts on the system namespace {namespace}")
    return DeploymentRef(namespace, name)


@dataclass(frozen=True, slots=True)
class ActionRules:
    """The policy's limits for one verb on one target, combined over every scenario."""

    verb: ActionVerb
    target: DeploymentRef
    min_replicas: int | None = None
    max_replicas: int | None = None
    default_replicas: int | None = None
    approver_lists: tuple[tuple[str, ...], ...] = ()
    approvals_required: int = 1


def rules_for(policy: Policy, verb: ActionVerb, target: DeploymentRef) -> ActionRules:
    """The combined limits, or ``Forbidden`` when the policy does not allow ``verb`` there."""
    if is_protected_namespace(target.namespace):
        raise Forbidden(f"firebreak never acts on the system namespace {target.namespace}")
    named = policy.suggestions(target.name, target.namespace)
    if not named:
        raise Forbidden(f"the runbook policy suggests no action on {target}")
    if verb is ActionVerb.DIAGNOSE:
        return ActionRules(verb, target)
    same = [action for action in named if action.verb == verb.value]
    if not same:
        allowed = sorted({action.verb for action in named})
        raise Forbidden(
            f"the runbook policy does not allow {verb.value} on {target} "
            f"(allowed: {', '.join(allowed)})"
        )
    mins = [a.bounds.min_replicas for a in same if a.bounds.min_replicas is not None]
    maxes = [a.bounds.max_replicas for a in same if a.bounds.max_replicas is not None]
    defaults = [a.replicas for a in same if a.replicas is not None]
    return ActionRules(
        verb=verb,
        target=target,
        min_replicas=max(mins) if mins else None,
        max_replicas=min(maxes) if maxes else None,
        default_replicas=defaults[0] if defaults else None,
        approver_lists=tuple(a.approvers for a in same if a.approvers),
        approvals_required=max(a.approvals_required for a in same),
    )


def check_arguments(
    rules: ActionRules, *, replicas: object = None, to_revision: object = None
) -> tuple[int | None, int | None]:
    """The validated ``(replicas, to_revision)`` for the verb; ``BadRequest``/``Forbidden``."""
    verb = rules.verb
    if verb is not ActionVerb.SCALE and replicas is not None:
        raise BadRequest(f"{verb.value} takes no replica count")
    if verb is not ActionVerb.ROLLBACK and to_revision is not None:
        raise BadRequest(f"{verb.value} takes no revision")
    if verb is ActionVerb.SCALE:
        if replicas is None:
            replicas = rules.default_replicas
        # bool is an int in Python; "scale to True" is a bug, not a count.
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise BadRequest(f"replicas must be a whole number, got {replicas!r}")
        low, high = rules.min_replicas, rules.max_replicas
        if low is None or high is None:
            raise Forbidden(f"the runbook policy gives no replica bounds for {rules.target}")
        if not low <= replicas <= high:
            raise Forbidden(
                f"{replicas} replicas is outside the policy's bounds for {rules.target} "
                f"({low} to {high})"
            )
        return replicas, None
    if verb is ActionVerb.ROLLBACK and to_revision is not None:
        if not isinstance(to_revision, int) or isinstance(to_revision, bool) or to_revision < 1:
            raise BadRequest(f"to_revision must be a positive whole number, got {to_revision!r}")
        return None, to_revision
    return None, None


def required_approvals(rules: ActionRules, severity: Severity) -> int:
    """Distinct approvers needed: the policy's number, and two for a rollback on a P0."""
    risky = rules.verb is ActionVerb.ROLLBACK and severity is Severity.P0
    return max(rules.approvals_required, 2 if risky else 1)


def _is_group(entry: str) -> bool:
    return entry.startswith("S")


async def _listed(user_id: str, entries: Sequence[str], directory: Directory) -> bool:
    if user_id in entries:
        return True
    for entry in entries:
        if _is_group(entry) and user_id in await directory.group_members(entry):
            return True
    return False


async def may_approve(
    actor: Actor, *, approvers: Sequence[str], rules: ActionRules, directory: Directory
) -> bool:
    """Deny by default: a Slack user listed in the settings' approvers (directly or through a
    user group) and admitted by every ``approvers`` list the policy gives for the action."""
    if actor.kind != "slack" or not actor.id:
        return False
    if not await _listed(actor.id, approvers, directory):
        return False
    for narrowing in rules.approver_lists:
        if not await _listed(actor.id, narrowing, directory):
            return False
    return True


def slack_actor(user_id: str) -> Actor:
    """The actor for a Slack user id (``U…``/``W…``), as timeline entries name it."""
    return Actor("slack", user_id)
