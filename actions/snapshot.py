"""What the approval records about a deployment and compares before execution."""

from __future__ import annotations

from actions.objects import (
    RESTARTED_AT_ANNOTATION,
    JsonObject,
    desired_replicas,
    integer,
    mapping,
    revision_of,
    text,
)
from actions.templates import pod_template, template_digest
from bot.domain.deployment import TargetSnapshot
from bot.errors import ClusterError


def snapshot_of(deployment: JsonObject) -> TargetSnapshot:
    resource_version = text(deployment, "metadata", "resourceVersion")
    if not resource_version:
        raise ClusterError("the deployment came back without metadata.resourceVersion")
    template = pod_template(deployment)
    restarted_at = mapping(template, "metadata", "annotations").get(RESTARTED_AT_ANNOTATION)
    return TargetSnapshot(
        resource_version=resource_version,
        generation=integer(deployment, "metadata", "generation"),
        replicas=desired_replicas(deployment),
        revision=revision_of(deployment) or 0,
        paused=mapping(deployment, "spec").get("paused") is True,
        restarted_at=restarted_at if isinstance(restarted_at, str) else None,
        template_hash=template_digest(template),
    )
