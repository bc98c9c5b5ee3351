"""``scale``: set ``spec.replicas`` through the deployment's scale subresource, as
``kubectl scale --resource-version`` does.

The target is absolute, so a retry is harmless. The patch carries the ``resourceVersion``
just read; a 409 (someone else changed the deployment in between) is answered by reading
again and retrying, a bounded number of times. Reading goes through the deployment itself, so
the bot needs only ``get`` on deployments and ``patch`` on ``deployments/scale``.
"""

from __future__ import annotations

from actions.api import KubeApi
from actions.objects import desired_replicas, text
from bot.domain.action import check_replicas
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import TargetChanged

ATTEMPTS = 5


async def scale(
    api: KubeApi, target: Target, *, replicas: int, dry_run: bool, attempts: int = ATTEMPTS
) -> ChangeResult:
    check_replicas(replicas)  # the last-line guard: the same rule the request passed
    last: TargetChanged | None = None
    for _ in range(attempts):
        deployment = await api.deployment(target)
        before = desired_replicas(deployment)
        if before == replicas:
            return ChangeResult(skipped=True, detail=f"{target} already has {replicas} replicas")
        patch = {
            "metadata": {"resourceVersion": text(deployment, "metadata", "resourceVersion")},
            "spec": {"replicas": replicas},
        }
        try:
            await api.patch_scale(target, patch, dry_run=dry_run)
        except TargetChanged as exc:
            last = exc
            continue
        verb = "would scale" if dry_run else "scaled"
        return ChangeResult(skipped=False, detail=f"{verb} {target} from {before} to {replicas}")
    raise TargetChanged(f"scale {target}: still conflicting after {attempts} attempts: {last}")
