"""``restart``: a rolling restart, as ``kubectl rollout restart`` does it, by stamping the pod
template annotation ``kubectl.kubernetes.io/restartedAt``.

The value is fixed when the action is approved, so running the action again (a retry after a
crash) finds the stamp already there and restarts nothing twice.
"""

from __future__ import annotations

from actions.api import KubeApi
from actions.objects import RESTARTED_AT_ANNOTATION, mapping, text
from actions.templates import pod_template
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import BadRequest, ClusterError, TargetChanged


async def restart(
    api: KubeApi,
    target: Target,
    *,
    restarted_at: str,
    expect_resource_version: str | None,
    dry_run: bool,
) -> ChangeResult:
    if not restarted_at:
        raise BadRequest("restart needs the restartedAt value fixed at approval")
    deployment = await api.deployment(target)
    stamped = mapping(pod_template(deployment), "metadata", "annotations")
    # Our own stamp: this very action already ran, whatever else moved the version since.
    if stamped.get(RESTARTED_AT_ANNOTATION) == restarted_at:
        return ChangeResult(
            skipped=True, detail=f"{target} was already restarted at {restarted_at}"
        )
    if mapping(deployment, "spec").get("paused") is True:
        raise ClusterError(
            f"{target} is paused; a paused deployment does not roll out a restart "
            "(resume it first with 'kubectl rollout resume')"
        )
    resource_version = text(deployment, "metadata", "resourceVersion")
    if expect_resource_version is not None and resource_version != expect_resource_version:
        raise TargetChanged(
            f"{target} changed since approval (resourceVersion {expect_resource_version} "
            f"is now {resource_version})"
        )
    patch = {
        # The version read above is the precondition: a change in between answers 409.
        "metadata": {"resourceVersion": resource_version},
        "spec": {
            "template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: restarted_at}}}
        },
    }
    await api.patch_deployment(target, patch, dry_run=dry_run)
    verb = "would restart" if dry_run else "restarted"
    return ChangeResult(skipped=False, detail=f"{verb} {target} (restartedAt {restarted_at})")
