"""What may be asked for and who may approve it: target and argument validation against the
runbook policy, and approver checks. Pure functions plus one ``Directory`` lookup.

Which targets the policy allows:

* the namespace must be in the policy's allow-list, ``kubernetes.namespaces``, and is never a
  ``kube-*`` system namespace whatever the policy says (``bot.domain.target`` is the one
  place that decides what a valid target is). A refusal names the allow-list;
* which deployment is failing comes from the incident's alerts (``bot.policy.targets``);
* a mutating verb is allowed on a deployment only if some suggestion of that verb applies to
  it: one naming that deployment, or one naming no deployment (it acts on whatever the alert
  names). Any scenario's suggestion counts, not only the incident's: an incident classified
  "high latency" may turn out to need the rollback "service down" suggests. Otherwise
  ``Forbidden``, naming the deployments the policy allows that verb on;
* its limits come from those suggestions. They combine strictly: the narrowest replica
  bounds, the most approvals, and every ``approvers`` list must admit the approver;
* ``diagnose`` (read-only) is allowed on every deployment in an allowed namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.action import ActionVerb, check_revision, is_whole_number
from bot.domain.actor import Actor
from bot.domain.incident import Severity
from bot.domain.target import Target, check_name, check_namespace
from bot.errors import BadRequest, Forbidden
from bot.policy.model import Policy
from bot.ports import Directory


@dataclass(frozen=True, slots=True)
class ActionRules:
    """The policy's limits for one verb on one target, combined over every scenario."""

    verb: ActionVerb
    target: Target
    min_replicas: int | None = None
    max_replicas: int | None = None
    default_replicas: int | None = None
    approver_lists: tuple[tuple[str, ...], ...] = ()
    approvals_required: int = 1


def check_allowed(policy: Policy, target: Target) -> Target:
    """``target`` when its names are valid and its namespace is in the policy's allow-list;
    ``BadRequest`` for a bad name, ``Forbidden`` (naming the allow-list) otherwise."""
    allowed = policy.kubernetes
    try:
        check_namespace(target.namespace)
    except Forbidden as exc:
        raise Forbidden(f"{exc} (the runbook policy allows: {allowed.allow_list()})") from None
    if not allowed.allows(target.namespace):
        raise Forbidden(
            f"firebreak acts only in the namespaces the runbook policy allows "
            f"({allowed.allow_list()}), not in {target.namespace}"
        )
    check_name(target.name, target.kind)
    return target


def rules_for(policy: Policy, verb: ActionVerb, target: Target) -> ActionRules:
    """The combined limits, or ``Forbidden`` when the policy does not allow ``verb`` there."""
    check_allowed(policy, target)
    if verb is ActionVerb.DIAGNOSE:
        return ActionRules(verb, target)
    same = policy.suggestions(verb.value)
    if not same:
        allowed = sorted({a.verb for s in policy.scenarios.values() for a in s.actions})
        raise Forbidden(
            f"the runbook policy suggests no {verb.value} on any deployment "
            f"(it suggests: {', '.join(allowed) or 'nothing'})"
        )
    applying = [a for a in same if a.deployment in (None, target.name)]
    if not applying:
        named = sorted({a.deployment for a in same if a.deployment is not None})
        raise Forbidden(
            f"the runbook policy suggests {verb.value} only on {', '.join(named)}, "
            f"not on {target.name}"
        )
    mins = [a.bounds.min_replicas for a in applying if a.bounds.min_replicas is not None]
    maxes = [a.bounds.max_replicas for a in applying if a.bounds.max_replicas is not None]
    defaults = [a.replicas for a in applying if a.replicas is not None]
    return ActionRules(
        verb=verb,
        target=target,
        min_replicas=max(mins) if mins else None,
        max_replicas=min(maxes) if maxes else None,
        default_replicas=defaults[0] if defaults else None,
        approver_lists=tuple(a.approvers for a in applying if a.approvers),
        approvals_required=max(a.approvals_required for a in applying),
    )


def check_arguments(
    rules: ActionRules,
    *,
    replicas: object = None,
    to_revision: object = None,
    restoring: bool = False,
) -> tuple[int | None, int | None]:
    """The validated ``(replicas, to_revision)`` for the verb; ``BadRequest``/``Forbidden``.

    ``restoring``: the count puts back an HPA floor from before the incident, so the policy's
    lower bound does not apply (it may be below it); its upper bound still does."""
    verb = rules.verb
    if verb is not ActionVerb.SCALE and replicas is not None:
        raise BadRequest(f"{verb.value} takes no replica count")
    if verb is not ActionVerb.ROLLBACK and to_revision is not None:
        raise BadRequest(f"{verb.value} takes no revision")
    if verb is ActionVerb.SCALE:
        if replicas is None:
            replicas = rules.default_replicas
        if not is_whole_number(replicas):
            raise BadRequest(f"replicas must be a whole number, got {replicas!r}")
        low, high = rules.min_replicas, rules.max_replicas
        if low is None or high is None:
            raise Forbidden(f"the runbook policy gives no replica bounds for {rules.target}")
        if restoring:
            low = min(low, replicas)
        if not low <= replicas <= high:
            raise Forbidden(
                f"{replicas} replicas is outside the policy's bounds for {rules.target} "
                f"({low} to {high})"
            )
        return replicas, None
    if verb is ActionVerb.ROLLBACK and to_revision is not None:
        return None, check_revision(to_revision)
    return None, None


def required_approvals(rules: ActionRules, severity: Severity) -> int:
    """Distinct approvers needed: the policy's number, and two for a rollback on a P0."""
    risky = rules.verb is ActionVerb.ROLLBACK and severity is Severity.P0
    return max(rules.approvals_required, 2 if risky else 1)


async def may_approve(
    actor: Actor, *, approvers: Sequence[str], rules: ActionRules, directory: Directory
) -> bool:
    """Deny by default: admitted by the settings' approvers and by every ``approvers`` list
    the policy gives for the action. What the entries mean (users, groups) is the
    directory's business."""
    if not await directory.admits(actor, approvers):
        return False
    for narrowing in rules.approver_lists:
        if not await directory.admits(actor, narrowing):
            return False
    return True
