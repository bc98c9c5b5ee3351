"""The HorizontalPodAutoscaler that governs a deployment, and moving its ``minReplicas``.

An HPA is found without listing (the bot's Role has ``get`` and ``patch`` on HPAs, not
``list``): by convention it is named like its deployment, as in the shipped manifests, and it
counts only when its ``scaleTargetRef`` really is that Deployment.
"""

from __future__ import annotations

from actions.api import KubeApi
from actions.objects import JsonObject, integer, mapping, text
from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import BadRequest, ClusterError, NotFound, TargetChanged

ATTEMPTS = 5


def autoscaler_of(hpa: JsonObject, target: Target) -> Autoscaler | None:
    """``hpa`` as an ``Autoscaler`` when it scales ``target``'s Deployment, else ``None``."""
    ref = mapping(hpa, "spec", "scaleTargetRef")
    group = str(ref.get("apiVersion", "")).split("/")[0]
    if ref.get("kind") != "Deployment" or ref.get("name") != target.name or group != "apps":
        return None
    return Autoscaler(
        name=text(hpa, "metadata", "name") or target.name,
        # The API defaults a missing minReplicas to 1.
        min_replicas=integer(hpa, "spec", "minReplicas", default=1),
        max_replicas=integer(hpa, "spec", "maxReplicas"),
        resource_version=text(hpa, "metadata", "resourceVersion") or "",
    )


async def find_autoscaler(api: KubeApi, target: Target) -> Autoscaler | None:
    """The HPA named like ``target`` that scales it; ``None`` when there is none."""
    try:
        hpa = await api.autoscaler(target.namespace, target.name)
    except NotFound:
        return None
    return autoscaler_of(hpa, target)


async def set_min_replicas(
    api: KubeApi, target: Target, name: str, *, min_replicas: int, dry_run: bool
) -> ChangeResult:
    """Patch ``spec.minReplicas`` of HPA ``name`` (which must govern ``target``).

    A JSON merge patch carrying the ``resourceVersion`` just read, as ``scale`` does: a
    concurrent edit is a 409, answered by reading again, a bounded number of times (the value
    is absolute, so a retry is harmless)."""
    if min_replicas < 1:
        raise BadRequest(f"an HPA's minReplicas must be at least 1, got {min_replicas}")
    last: TargetChanged | None = None
    for _ in range(ATTEMPTS):
        hpa = await api.autoscaler(target.namespace, name)
        found = autoscaler_of(hpa, target)
        if found is None:
            raise NotFound(f"HPA {target.namespace}/{name} does not scale {target}")
        if min_replicas > found.max_replicas:
            # The cluster's state, not the argument, refuses it (the max may have moved since
            # the request): a refused change, as the run reports one.
            raise ClusterError(
                f"minReplicas {min_replicas} is above HPA {target.namespace}/{name}'s "
                f"maxReplicas {found.max_replicas}"
            )
        before = found.min_replicas
        where = f"HPA {target.namespace}/{name}"
        if before == min_replicas:
            return ChangeResult(skipped=True, detail=f"{where} already has minReplicas {before}")
        patch = {
            "metadata": {"resourceVersion": found.resource_version},
            "spec": {"minReplicas": min_replicas},
        }
        try:
            await api.patch_autoscaler(target.namespace, name, patch, dry_run=dry_run)
        except TargetChanged as exc:
            last = exc
            continue
        verb = "would set" if dry_run else "set"
        return ChangeResult(
            skipped=False, detail=f"{verb} {where} minReplicas from {before} to {min_replicas}"
        )
    raise TargetChanged(f"{target}: HPA {name} still conflicting after {ATTEMPTS} attempts: {last}")
