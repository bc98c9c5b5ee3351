"""``scale``: set ``spec.replicas`` through the deployment's scale subresource.

The target is absolute, so a retry is harmless. The write carries the scale's
``resourceVersion``; a 409 (someone else changed the deployment in between) is answered by
reading the scale again and retrying, a bounded number of times.
"""

from __future__ import annotations

from actions.api import KubeApi
from actions.objects import integer, text
from bot.errors import BadRequest, TargetChanged
from bot.remediation import ChangeResult, DeploymentRef

ATTEMPTS = 5


async def scale(
    api: KubeApi, target: DeploymentRef, *, replicas: int, dry_run: bool, attempts: int = ATTEMPTS
) -> ChangeResult:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise BadRequest(f"replicas must be a whole number of at least 0, not {replicas!r}")
    last: TargetChanged | None = None
    for _ in range(attempts):
        current = await api.scale(target)
        before = integer(current, "spec", "replicas")
        if before == replicas:
            return ChangeResult(skipped=True, detail=f"{target} already has {replicas} replicas")
        body = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": target.name,
                "namespace": target.namespace,
                "resourceVersion": text(current, "metadata", "resourceVersion"),
            },
            "spec": {"replicas": replicas},
        }
        try:
            await api.replace_scale(target, body, dry_run=dry_run)
        except TargetChanged as exc:
            last = exc
            continue
        verb = "would scale" if dry_run else "scaled"
        return ChangeResult(skipped=False, detail=f"{verb} {target} from {before} to {replicas}")
    raise TargetChanged(f"scale {target}: still conflicting after {attempts} attempts: {last}")
