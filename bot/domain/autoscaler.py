"""HorizontalPodAutoscalers as remediation sees them: the HPA that governs a deployment (read
by the actuator) and an action's plan to move the HPA's floor instead of the deployment's
replicas, which the autoscaler would undo within minutes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Autoscaler:
    """An HPA whose ``scaleTargetRef`` is the deployment, as read from the cluster."""

    name: str
    min_replicas: int
    max_replicas: int
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class AutoscalerPlan:
    """A scale that goes through the HPA ``name``: its ``minReplicas`` becomes the action's
    replica count. ``min_replicas`` and ``max_replicas`` are the HPA's when the request was
    made, shown to the approver and compared at execution."""

    name: str
    min_replicas: int
    max_replicas: int

    @classmethod
    def of(cls, autoscaler: Autoscaler) -> AutoscalerPlan:
        """The plan through ``autoscaler`` as it was just read."""
        return cls(autoscaler.name, autoscaler.min_replicas, autoscaler.max_replicas)


def plan_to_json(plan: AutoscalerPlan | None) -> dict[str, Any] | None:
    """The plan as stored and put on the timeline; ``None`` for a scale without an HPA."""
    if plan is None:
        return None
    return {"name": plan.name, "min_replicas": plan.min_replicas, "max_replicas": plan.max_replicas}


def plan_from_json(data: object) -> AutoscalerPlan | None:
    """The stored plan; ``None`` for rows without one (or with one this version cannot read,
    which is safer planned as absent than guessed)."""
    if not isinstance(data, dict):
        return None
    name, low, high = data.get("name"), data.get("min_replicas"), data.get("max_replicas")
    if not isinstance(name, str) or not isinstance(low, int) or not isinstance(high, int):
        return None
    return AutoscalerPlan(name, low, high)
