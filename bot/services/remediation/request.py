"""Request a remediation for an incident. Everything is validated before any approval is
asked for; a storm of incidents suggesting the same action gets one open request."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.action import ActionRequest, ActionState, ActionVerb, NewAction
from bot.domain.actor import Actor
from bot.domain.autoscaler import plan_to_json
from bot.domain.events import ActionJoined, ActionRequested, about
from bot.domain.target import Target
from bot.errors import BadRequest, Conflict, Forbidden, NotFound
from bot.ports import UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.autoscaler import ScalePlan, check_restore, plan_scale
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.rules import (
    check_arguments,
    required_approvals,
    rules_for,
)
from bot.services.transactions import in_transaction


@dataclass(frozen=True, slots=True)
class RequestResult:
    """The open request for the action. ``created`` is false when an open request for the
    same verb on the same deployment already existed: the caller was joined to it (its
    arguments, e.g. the replica count, are the first requester's)."""

    action: ActionRequest
    created: bool


async def request_action(
    ctx: RemediationContext,
    incident_id: int,
    verb: ActionVerb | str,
    namespace: str,
    deployment: str,
    *,
    requested_by: Actor,
    replicas: object = None,
    to_revision: object = None,
    restores: int | None = None,
) -> RequestResult:
    """Validate and record a request; ``BadRequest``/``Forbidden`` before anything is stored.

    ``replicas`` defaults to the policy's suggested count for a scale; a scale of a
    deployment an HPA governs is planned as a change of the HPA's ``minReplicas``
    (``autoscaler.plan_scale``). Requests on resolved incidents are refused (``Conflict``):
    remediation belongs to an incident being worked, except ``restores``, the request that
    puts back the HPA floor one of its actions raised (``autoscaler.check_restore``).
    Every refusal is also an ``action.request_refused`` entry on the incident's timeline
    (and so a line in its thread), written after the refused transaction rolled back."""
    try:
        return await _request(
            ctx,
            incident_id,
            verb,
            namespace,
            deployment,
            requested_by=requested_by,
            replicas=replicas,
            to_revision=to_revision,
            restores=restores,
        )
    except (BadRequest, Forbidden, Conflict) as exc:
        await action_steps.refuse_request(
            ctx.store,
            incident_id,
            actor=requested_by,
            at=ctx.clock.now(),
            verb=str(verb),
            target=f"{namespace}/deploy/{deployment}",
            why=str(exc),
            replicas=replicas,
        )
        raise


async def _request(
    ctx: RemediationContext,
    incident_id: int,
    verb: ActionVerb | str,
    namespace: str,
    deployment: str,
    *,
    requested_by: Actor,
    replicas: object = None,
    to_revision: object = None,
    restores: int | None = None,
) -> RequestResult:
    try:
        verb = ActionVerb(verb)
    except ValueError:
        raise BadRequest(f"unknown action {verb!r}: use scale, rollback or restart") from None
    if not verb.mutates:
        raise BadRequest("diagnose is read-only and needs no approval: run it directly")
    store, policy, clock = ctx.store, ctx.policy, ctx.clock
    approval_ttl = ctx.timings.approval_ttl
    # rules_for checks the names and the policy's namespace allow-list.
    target = Target(namespace, deployment)
    rules = rules_for(policy, verb, target)
    replicas, to_revision = check_arguments(
        rules, replicas=replicas, to_revision=to_revision, restoring=restores is not None
    )
    plan = ScalePlan()
    if replicas is not None:
        plan = await plan_scale(ctx.cluster, target, replicas, restoring=restores is not None)

    async def work(uow: UnitOfWork) -> RequestResult:
        now = clock.now()
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        if restores is not None and replicas is not None:
            await check_restore(
                uow,
                incident_id=incident_id,
                restores=restores,
                target=target,
                replicas=replicas,
                plan=plan,
            )
        elif not incident.status.is_open:
            raise Conflict(f"incident {incident_id} is resolved; reopen it before remediating")
        new = NewAction(
            incident_id=incident_id,
            verb=verb,
            target=target,
            requested_by=requested_by,
            requested_at=now,
            expires_at=now + timedelta(seconds=approval_ttl),
            approvals_required=required_approvals(rules, incident.severity),
            replicas=replicas,
            to_revision=to_revision,
            autoscaler=plan.autoscaler,
            restores=restores,
        )
        action, created = await uow.actions.open_or_existing(new)
        lapsed = action.state in (ActionState.REQUESTED, ActionState.APPROVED)
        if not created and lapsed and now >= action.expires_at:
            # A lapsed request nobody swept yet must not swallow a fresh one.
            await uow.incidents.get(action.incident_id, for_update=True)
            if await action_steps.expire(uow, action, at=now) is None:
                raise Conflict(f"action {action.id} changed meanwhile")
            action, created = await uow.actions.open_or_existing(new)
        if (
            not created
            and (restores is not None or action.restores is not None)
            and (action.replicas != new.replicas or action.restores != new.restores)
        ):
            # A restore is about one floor: joining another scale (or a raise joining a
            # restore) would apply something the clicker did not ask for.
            asked = (
                f"the restore to {replicas}" if restores is not None else f"a scale to {replicas}"
            )
            raise Conflict(
                f"{action.describe()} (action {action.id}) is already open on {target}; "
                f"{asked} replicas cannot join it, wait for it to end"
            )
        if created:
            await uow.timeline.append(
                incident_id,
                at=now,
                actor=requested_by,
                event=about(
                    ActionRequested(
                        approvals_required=action.approvals_required,
                        expires_at=action.expires_at.isoformat(),
                        autoscaler=plan_to_json(action.autoscaler),
                        autoscaler_unchecked=plan.unchecked,
                        restores=action.restores,
                    ),
                    action,
                ),
            )
            return RequestResult(action, True)
        if (
            action.state is ActionState.REQUESTED
            and new.approvals_required > action.approvals_required
        ):
            # A P0 joining a request born on a P1 raises the bar for everyone.
            raised = await uow.actions.update(
                action,
                dataclasses.replace(
                    action, approvals_required=new.approvals_required, updated_at=now
                ),
            )
            if raised is None:
                raise Conflict(f"action {action.id} changed meanwhile")
            action = raised
        await uow.timeline.append(
            incident_id,
            at=now,
            actor=requested_by,
            event=about(ActionJoined(owner_incident=action.incident_id), action),
        )
        return RequestResult(action, False)

    return await in_transaction(store, work)
