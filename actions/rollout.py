"""Judge a Deployment's rollout exactly as ``kubectl rollout status`` does."""

from __future__ import annotations

from actions.objects import JsonObject, desired_replicas, integer, mapping, text
from bot.domain.deployment import RolloutProgress

# The Progressing condition's reason once spec.progressDeadlineSeconds has passed.
TIMED_OUT_REASON = "ProgressDeadlineExceeded"


def judge(deployment: JsonObject) -> RolloutProgress:
    """One look at the rollout.

    The checks and their order are kubectl's: nothing is judged until the controller has
    observed the current generation; then a progress deadline exceeded fails the rollout;
    then it waits for updated replicas, for old replicas to terminate, and for updated
    replicas to become available.
    """
    name = text(deployment, "metadata", "name") or "?"
    desired = desired_replicas(deployment)
    updated = integer(deployment, "status", "updatedReplicas")
    total = integer(deployment, "status", "replicas")
    ready = integer(deployment, "status", "readyReplicas")
    available = integer(deployment, "status", "availableReplicas")
    generation = integer(deployment, "metadata", "generation")
    observed = integer(deployment, "status", "observedGeneration")

    def progress(message: str, *, done: bool = False, failed: bool = False) -> RolloutProgress:
        return RolloutProgress(
            desired=desired,
            updated=updated,
            ready=ready,
            available=available,
            observed_current=generation <= observed,
            done=done,
            message=message,
            failed=failed,
        )

    if generation > observed:
        return progress("Waiting for deployment spec update to be observed...")
    if _timed_out(deployment):
        return progress(f'deployment "{name}" exceeded its progress deadline', failed=True)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < desired:
        return progress(f"{waiting}{updated} out of {desired} new replicas have been updated...")
    if total > updated:
        return progress(f"{waiting}{total - updated} old replicas are pending termination...")
    if available < updated:
        return progress(f"{waiting}{available} of {updated} updated replicas are available...")
    return progress(f'deployment "{name}" successfully rolled out', done=True)


def _timed_out(deployment: JsonObject) -> bool:
    conditions = mapping(deployment, "status").get("conditions") or []
    return any(
        isinstance(cond, dict)
        and cond.get("type") == "Progressing"
        and cond.get("reason") == TIMED_OUT_REASON
        for cond in conditions
    )
