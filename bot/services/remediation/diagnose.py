"""Diagnose a deployment: read-only, needs no approval, recorded on the timeline."""

from __future__ import annotations

from bot.domain.action import ActionVerb
from bot.domain.actor import Actor
from bot.domain.deployment import Diagnosis
from bot.domain.events import ActionDiagnosed
from bot.domain.target import Target
from bot.errors import BadRequest, ClusterError, Forbidden, NotFound
from bot.ports import UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.rules import rules_for
from bot.services.transactions import in_transaction


def summary(diagnosis: Diagnosis) -> ActionDiagnosed:
    """The facts worth keeping on the timeline (the full diagnosis goes to the thread)."""
    snap, progress = diagnosis.snapshot, diagnosis.progress
    return ActionDiagnosed(
        target=str(diagnosis.target),
        replicas=snap.replicas,
        revision=snap.revision,
        paused=snap.paused,
        updated=progress.updated,
        ready=progress.ready,
        available=progress.available,
        rollout=progress.message,
        pods=len(diagnosis.pods),
        pods_not_ready=sum(1 for pod in diagnosis.pods if not pod.ready),
        restarts=sum(pod.restarts for pod in diagnosis.pods),
        warnings=sum(1 for event in diagnosis.events if event.type == "Warning"),
        revisions=[revision for revision, _ in diagnosis.revisions],
    )


async def diagnose_target(
    ctx: RemediationContext, incident_id: int, namespace: str, deployment: str, *, actor: Actor
) -> Diagnosis:
    """Read the deployment's state for an incident. Limited to the policy's namespace
    allow-list (reading other namespaces could leak what responders should not see). A
    refusal or a failure to read is on the incident's timeline too."""
    store, clock = ctx.store, ctx.clock
    async with store.transaction() as uow:
        if await uow.incidents.get(incident_id) is None:
            raise NotFound(f"no incident {incident_id}")
    try:
        target = rules_for(ctx.policy, ActionVerb.DIAGNOSE, Target(namespace, deployment)).target
        diagnosis = await ctx.cluster.diagnose(target)
    except (BadRequest, Forbidden, NotFound, ClusterError) as exc:
        await action_steps.refuse_request(
            store,
            incident_id,
            actor=actor,
            at=clock.now(),
            verb=ActionVerb.DIAGNOSE.value,
            target=f"{namespace}/deploy/{deployment}",
            why=str(exc),
        )
        raise

    async def work(uow: UnitOfWork) -> None:
        await uow.incidents.get(incident_id, for_update=True)
        await uow.timeline.append(
            incident_id,
            at=clock.now(),
            actor=actor,
            event=summary(diagnosis),
        )

    await in_transaction(store, work)
    return diagnosis
