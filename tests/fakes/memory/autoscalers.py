"""HorizontalPodAutoscalers for the in-memory cluster: each governs one deployment, and, as
the HPA controller would, raising its floor above the deployment's replicas scales the
deployment up (by ``MemoryCluster.set_min_replicas``)."""

from __future__ import annotations

import dataclasses

from bot.domain.autoscaler import Autoscaler
from bot.domain.target import Target


@dataclasses.dataclass
class FakeAutoscaler:
    name: str
    min_replicas: int
    max_replicas: int
    resource_version: int = 1

    def read(self) -> Autoscaler:
        return Autoscaler(
            self.name, self.min_replicas, self.max_replicas, str(self.resource_version)
        )


class MemoryAutoscalers:
    """The HPAs, keyed by the deployment they govern."""

    def __init__(self) -> None:
        self.by_target: dict[Target, FakeAutoscaler] = {}

    def add(
        self, ref: Target, *, min_replicas: int = 3, max_replicas: int = 10, name: str = ""
    ) -> FakeAutoscaler:
        hpa = FakeAutoscaler(name or ref.name, min_replicas, max_replicas)
        self.by_target[ref] = hpa
        return hpa

    def get(self, ref: Target) -> FakeAutoscaler:
        return self.by_target[ref]

    def change_min_by_someone_else(self, ref: Target, min_replicas: int) -> None:
        hpa = self.by_target[ref]
        hpa.min_replicas = min_replicas
        hpa.resource_version += 1
