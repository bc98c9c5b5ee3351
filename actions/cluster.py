"""``KubeCluster``: ``bot.ports.Cluster`` over kubernetes_asyncio.

Built from a kubeconfig file or the in-cluster service account. Each method guards the target
(never a system namespace) and hands over to the verb's module.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import TracebackType

from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import (
    ConfigException,
    load_incluster_config,
    new_client_from_config,
)

from actions.api import KubeApi
from actions.autoscaler import find_autoscaler, set_min_replicas
from actions.diagnose import diagnose
from actions.restart import restart
from actions.rollback import rollback
from actions.rollout import judge
from actions.scale import ATTEMPTS, scale
from actions.snapshot import snapshot_of
from actions.targets import check_target
from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult, Diagnosis, RolloutProgress, TargetSnapshot
from bot.domain.target import Target
from bot.errors import ConfigError


class KubeCluster:
    """The Kubernetes actuator. Close it (or use ``async with``) to release connections.

    ``timeout`` bounds each API request in seconds; ``scale_attempts`` bounds the re-reads
    after a 409 on the scale subresource.
    """

    def __init__(
        self, client: ApiClient, *, timeout: float = 10.0, scale_attempts: int = ATTEMPTS
    ) -> None:
        self._client = client
        self._api = KubeApi(client, timeout=timeout)
        self._scale_attempts = scale_attempts

    @classmethod
    async def from_kubeconfig(
        cls,
        path: str | Path | None = None,
        *,
        context: str | None = None,
        request_timeout: float = 10.0,
    ) -> KubeCluster:
        """From a kubeconfig file (``path``, else ``$KUBECONFIG``, else ``~/.kube/config``)."""
        if path is None:
            # Read now: the library reads $KUBECONFIG once, when it is imported.
            path = os.environ.get("KUBECONFIG") or None
        elif not await asyncio.to_thread(Path(path).is_file):
            raise ConfigError(f"kubeconfig {path} does not exist")
        try:
            client = await new_client_from_config(
                config_file=str(path) if path is not None else None, context=context
            )
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"cannot load kubeconfig {path or '(default)'}: {exc}") from exc
        return cls(client, timeout=request_timeout)

    @classmethod
    def in_cluster(cls, *, request_timeout: float = 10.0) -> KubeCluster:
        """From the pod's service account (token and CA mounted by Kubernetes)."""
        configuration = Configuration()
        try:
            load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"cannot load the in-cluster configuration: {exc}") from exc
        return cls(ApiClient(configuration), timeout=request_timeout)

    @classmethod
    async def from_environment(cls, *, request_timeout: float = 10.0) -> KubeCluster:
        """``$KUBECONFIG`` when set; else in-cluster inside a pod; else ``~/.kube/config``."""
        if not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster(request_timeout=request_timeout)
        return await cls.from_kubeconfig(request_timeout=request_timeout)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> KubeCluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def snapshot(self, target: Target) -> TargetSnapshot:
        return snapshot_of(await self._api.deployment(check_target(target)))

    async def scale(self, target: Target, *, replicas: int, dry_run: bool = False) -> ChangeResult:
        return await scale(
            self._api,
            check_target(target),
            replicas=replicas,
            dry_run=dry_run,
            attempts=self._scale_attempts,
        )

    async def rollback(
        self,
        target: Target,
        *,
        to_revision: int | None = None,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        return await rollback(
            self._api,
            check_target(target),
            to_revision=to_revision,
            expect_resource_version=expect_resource_version,
            dry_run=dry_run,
        )

    async def restart(
        self,
        target: Target,
        *,
        restarted_at: str,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        return await restart(
            self._api,
            check_target(target),
            restarted_at=restarted_at,
            expect_resource_version=expect_resource_version,
            dry_run=dry_run,
        )

    async def rollout(self, target: Target) -> RolloutProgress:
        return judge(await self._api.deployment(check_target(target)))

    async def diagnose(self, target: Target) -> Diagnosis:
        return await diagnose(self._api, check_target(target))

    async def autoscaler(self, target: Target) -> Autoscaler | None:
        """The HPA named like the deployment whose ``scaleTargetRef`` is it, read with a
        ``get`` (the bot may not list HPAs); ``None`` when there is none."""
        return await find_autoscaler(self._api, check_target(target))

    async def set_min_replicas(
        self, target: Target, *, autoscaler: str, min_replicas: int, dry_run: bool = False
    ) -> ChangeResult:
        """Patch the ``minReplicas`` of HPA ``autoscaler``, which must govern ``target``."""
        return await set_min_replicas(
            self._api,
            check_target(target),
            autoscaler,
            min_replicas=min_replicas,
            dry_run=dry_run,
        )
