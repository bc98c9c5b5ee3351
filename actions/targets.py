"""The actuator's own guard on targets: every call re-checks its target with the core's one
validation (``bot.domain.target``), so a bug or a permissive policy upstream still never
reaches the cluster's system namespaces or sends it a name it would refuse."""

from __future__ import annotations

from bot.domain import target as targets
from bot.domain.target import Target


def check_target(target: Target) -> Target:
    """``target`` when the actuator may touch it; ``Forbidden`` for a system namespace,
    ``BadRequest`` for names Kubernetes would not accept."""
    return targets.check_target(target)
