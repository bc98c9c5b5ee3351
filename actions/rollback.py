"""``rollback``: what ``kubectl rollout undo`` does, with the deployment's ``resourceVersion``
as a precondition.

kubectl picks the ReplicaSet to restore among those the deployment controls, refuses a paused
deployment, skips when the template already matches, and otherwise sends one JSON patch that
replaces ``spec.template`` (the ReplicaSet's, without ``pod-template-hash``) and
``metadata.annotations`` (the ReplicaSet's, except the controller's bookkeeping annotations,
which stay as the deployment has them). The patch here starts by restating the version read,
so a deployment that moved in between answers 409 instead of being rolled back blind.
"""

from __future__ import annotations

from actions.api import KubeApi, label_selector
from actions.history import owned, pick
from actions.objects import JsonObject, mapping, revision_of, text
from actions.templates import equal_ignoring_hash, pod_template, without_hash
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import ClusterError, TargetChanged

# Kept from the deployment, never copied from the ReplicaSet (kubectl's list).
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


async def rollback(
    api: KubeApi,
    target: Target,
    *,
    to_revision: int | None,
    expect_resource_version: str | None,
    dry_run: bool,
) -> ChangeResult:
    deployment = await api.deployment(target)
    resource_version = text(deployment, "metadata", "resourceVersion")
    if expect_resource_version is not None and resource_version != expect_resource_version:
        raise TargetChanged(
            f"{target} changed since approval (resourceVersion {expect_resource_version} "
            f"is now {resource_version})"
        )
    replicasets = await api.replicasets(target.namespace, label_selector=label_selector(deployment))
    chosen = pick(owned(deployment, replicasets), to_revision=to_revision, name=target.name)
    revision = revision_of(chosen)
    if mapping(deployment, "spec").get("paused") is True:
        raise ClusterError(
            f"{target} is paused: you cannot rollback a paused deployment; "
            "resume it first with 'kubectl rollout resume' and try again"
        )
    if equal_ignoring_hash(pod_template(chosen), pod_template(deployment)):
        return ChangeResult(
            skipped=True,
            detail=f"{target}: current template already matches revision {revision}",
            revision=revision,
        )
    await api.patch_deployment(
        target, undo_patch(deployment, chosen, resource_version=resource_version), dry_run=dry_run
    )
    verb = "would roll back" if dry_run else "rolled back"
    return ChangeResult(
        skipped=False, detail=f"{verb} {target} to revision {revision}", revision=revision
    )


def undo_patch(
    deployment: JsonObject, replicaset: JsonObject, *, resource_version: str | None
) -> list[JsonObject]:
    """The JSON patch that restores ``replicaset``'s template into ``deployment``."""
    current = mapping(deployment, "metadata", "annotations")
    annotations = {key: value for key, value in current.items() if key in ANNOTATIONS_TO_SKIP}
    annotations.update(
        (key, value)
        for key, value in mapping(replicaset, "metadata", "annotations").items()
        if key not in ANNOTATIONS_TO_SKIP
    )
    patch: list[JsonObject] = []
    if resource_version is not None:
        patch.append(
            {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version}
        )
    patch.append(
        {"op": "replace", "path": "/spec/template", "value": without_hash(pod_template(replicaset))}
    )
    patch.append({"op": "replace", "path": "/metadata/annotations", "value": annotations})
    return patch
