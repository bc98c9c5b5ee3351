"""The entry point the adapters call for remediation: request, approve, deny, diagnose, and
the background work an approval starts (execution, following the rollout), plus the
start-up reconciliation of actions a crashed process left running and the expiry of stale
requests.

The use cases themselves are the other modules of this package; they share one
``RemediationContext``. This class holds it and the tasks that outlive a request. It knows
nothing of Slack: adapters pass an ``Actor`` and word the replies themselves.
"""

from __future__ import annotations

import logging

from bot.domain.action import ActionRequest, ActionVerb
from bot.domain.actor import BOT, Actor
from bot.domain.deployment import Diagnosis
from bot.errors import BadRequest
from bot.policy.targets import resolve_target
from bot.services.incidents.queries import alert_labels
from bot.services.remediation import steps as action_steps
from bot.services.remediation.approve import ApprovalResult, approve_action
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.deny import deny_action
from bot.services.remediation.diagnose import diagnose_target
from bot.services.remediation.execute import execute_action
from bot.services.remediation.expire import expire_actions
from bot.services.remediation.reconcile import reconcile_actions
from bot.services.remediation.request import RequestResult, request_action
from bot.workers import TaskSet

log = logging.getLogger("firebreak.remediation")
STOP_TIMEOUT_S = 10.0


class Remediator:
    """Requests, approvals and the tasks they start; one per process."""

    def __init__(self, ctx: RemediationContext, *, executions: TaskSet) -> None:
        self.ctx = ctx
        # The composition root owns the executions and stops them, before the cluster and
        # the store they use. An execution cut off mid-run stays ``running`` and is
        # reconciled against the cluster by the next process, never re-applied blindly.
        self.executions = executions

    # -- what people do ------------------------------------------------------------------
    async def request(
        self,
        incident_id: int,
        verb: ActionVerb | str,
        namespace: str,
        deployment: str,
        *,
        actor: Actor,
        replicas: object = None,
        to_revision: object = None,
        restores: int | None = None,
    ) -> RequestResult:
        return await request_action(
            self.ctx,
            incident_id,
            verb,
            namespace,
            deployment,
            requested_by=actor,
            replicas=replicas,
            to_revision=to_revision,
            restores=restores,
        )

    async def request_suggested(
        self, incident_id: int, index: int, *, actor: Actor
    ) -> RequestResult | Diagnosis:
        """A button on the card: the scenario's suggested action number ``index``, on the
        target the incident's alerts name (``bot.policy.targets``, as the card shows it). A
        suggested diagnose runs at once (its ``Diagnosis`` is returned); anything else is
        requested."""
        policy = self.ctx.policy
        incident, labels = await alert_labels(self.ctx.store, incident_id)
        scenario = policy.scenarios.get(incident.scenario)
        if scenario is None or not 0 <= index < len(scenario.actions):
            raise await self._refused(
                incident_id, actor, "", "", "this button's action is no longer in the runbook"
            )
        suggested = scenario.actions[index]
        target = resolve_target(policy.kubernetes, scenario, suggested, labels)
        if target.namespace is None or target.deployment is None:
            why = (
                f"neither the incident's alerts nor the runbook name the "
                f"{'deployment' if target.deployment is None else 'namespace'} to "
                f"{suggested.verb}; use /incident {suggested.verb} deploy/NAME -n NAMESPACE"
            )
            raise await self._refused(incident_id, actor, suggested.verb, str(target), why)
        if suggested.verb == ActionVerb.DIAGNOSE.value:
            return await self.diagnose(
                incident_id, target.namespace, target.deployment, actor=actor
            )
        return await self.request(
            incident_id,
            suggested.verb,
            target.namespace,
            target.deployment,
            actor=actor,
            replicas=suggested.replicas,
        )

    async def restore(self, action_id: int, *, actor: Actor) -> RequestResult:
        """Request putting back the HPA floor that action ``action_id`` raised (the button on
        the resolution): an ordinary scale request through approval, allowed on the resolved
        incident. Refusals are on the incident's timeline, like every refused request."""
        async with self.ctx.store.transaction() as uow:
            raised = await uow.actions.get(action_id)
        if raised is None or raised.previous_min_replicas is None:
            why = f"action {action_id} moved no HPA floor to restore"
            if raised is None:  # without the action there is no incident to tell
                raise BadRequest(why)
            raise await self._refused(
                raised.incident_id, actor, ActionVerb.SCALE.value, str(raised.target), why
            )
        return await self.request(
            raised.incident_id,
            ActionVerb.SCALE,
            raised.target.namespace,
            raised.target.name,
            actor=actor,
            replicas=raised.previous_min_replicas,
            restores=raised.id,
        )

    async def _refused(
        self, incident_id: int, actor: Actor, verb: str, target: str, why: str
    ) -> BadRequest:
        """Record a request refused before the request use case saw it (on the incident's
        timeline, committed on its own, like every refusal) and return the error to raise."""
        await action_steps.refuse_request(
            self.ctx.store,
            incident_id,
            actor=actor,
            at=self.ctx.clock.now(),
            verb=verb,
            target=target,
            why=why,
        )
        return BadRequest(why)

    async def approve(self, action_id: int, *, actor: Actor) -> ApprovalResult:
        """Count the approval; the final one starts the execution in the background."""
        result = await approve_action(self.ctx, action_id, approver=actor)
        if result.ready:
            self.executions.spawn(self._execute(action_id), f"execute action {action_id}")
        return result

    async def deny(self, action_id: int, *, actor: Actor, reason: str = "") -> ActionRequest:
        return await deny_action(self.ctx, action_id, actor=actor, reason=reason)

    async def diagnose(
        self, incident_id: int, namespace: str, deployment: str, *, actor: Actor
    ) -> Diagnosis:
        return await diagnose_target(self.ctx, incident_id, namespace, deployment, actor=actor)

    # -- background work -----------------------------------------------------------------
    async def sweep(self) -> None:
        """Reconcile what a crashed process left running and expire stale requests, once
        (``bot.services.remediation.sweeper`` runs this periodically)."""
        await self._reconcile()
        await expire_actions(self.ctx)

    async def _execute(self, action_id: int) -> None:
        action: ActionRequest = await execute_action(self.ctx, action_id, actor=BOT)
        log.info("action %d ended %s", action.id, action.state.value)

    async def _reconcile(self) -> None:
        settled = await reconcile_actions(self.ctx)
        for action in settled:
            log.info("reconciled action %d: %s", action.id, action.state.value)
