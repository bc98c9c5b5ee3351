"""The service's live state: the model being served, its history, faults and stats.

Shared by the aiohttp handlers and the fast ``/inference`` path, so both see the
same model, the same fault switch and the same counters.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lnn_service.batcher import MicroBatcher
from lnn_service.errors import NotReady, NotSupported, RegistryError, Unauthorized
from lnn_service.faults import Faults
from lnn_service.metrics import Stats
from lnn_service.registry import Registry
from lnn_service.runtime import F32, LoadedModel
from lnn_service.settings import Settings


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry(settings.model_dir)
        self.stats = Stats()
        self.faults = Faults()
        self.model: LoadedModel | None = None
        self.history: list[str] = []  # versions served before the current one, newest last
        self.started = time.monotonic()
        self.batcher = MicroBatcher(lambda: self.model, settings.micro_batch, self.stats)
        self._switch_lock = asyncio.Lock()
        # One lane for large batches: they run one at a time on the multi-threaded
        # session while the loop keeps serving single requests.
        self._batch_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lnn-batch")

    def close(self) -> None:
        self._batch_lane.shutdown(wait=True)

    async def run_batch(
        self, model: LoadedModel, inputs: F32, states: F32, dts: F32
    ) -> tuple[F32, F32]:
        if inputs.shape[0] < self.settings.batch_offload_rows:
            return model.run(inputs, states, dts)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._batch_lane, model.run_wide, inputs, states, dts)

    def require_model(self) -> LoadedModel:
        model = self.model
        if model is None:
            raise NotReady("no model loaded")
        return model

    def check_admin(self, authorization: str | None) -> None:
        token = self.settings.admin_token
        if token is None:
            raise Unauthorized("admin endpoints are disabled: LNN_ADMIN_TOKEN is not set")
        if authorization is None or not authorization.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        if not hmac.compare_digest(authorization[7:].encode(), token.encode()):
            raise Unauthorized("wrong admin token")

    def check_can_change(self) -> None:
        """Refuse state changes that would reach only one of several worker processes."""
        if self.settings.workers > 1:
            raise NotSupported(
                f"this change would reach one of {self.settings.workers} worker processes; "
                "run LNN_WORKERS=1 (scale with replicas) to switch models or run drills"
            )

    def _install(self, model: LoadedModel) -> None:
        self.model = model
        self.stats.model_load_seconds[model.version] = model.load_seconds
        self.stats.model_info = (model.version, model.sha256)

    async def _load(self, version: str) -> LoadedModel:
        # Hashing and session creation take milliseconds: keep them off the loop so
        # requests keep flowing to the current model meanwhile.
        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(
            None,
            self.registry.load,
            version,
            self.settings.ort_threads,
            self.settings.batch_threads,
        )
        if not await loop.run_in_executor(None, model.golden_ok):
            raise RegistryError(f"version {version!r} fails its golden input check")
        return model

    async def start(self) -> None:
        version = self.settings.model_version or self.registry.latest()
        self._install(await self._load(version))

    async def switch(self, version: str) -> LoadedModel:
        """Serve ``version`` from the next batch on; in-flight batches finish on the old one."""
        async with self._switch_lock:
            model = await self._load(version)
            if self.model is not None and self.model.version != version:
                self.history.append(self.model.version)
            self._install(model)
            self.stats.model_switches += 1
            return model

    async def rollback(self) -> LoadedModel:
        async with self._switch_lock:
            if not self.history:
                raise RegistryError("no previous version to roll back to")
            model = await self._load(self.history[-1])
            self.history.pop()
            self._install(model)
            self.stats.model_switches += 1
            return model

    def health(self) -> dict[str, Any]:
        model = self.model
        return {
            "status": "ok" if model is not None else "no model",
            "model_version": model.version if model else None,
            "model_sha256": model.sha256 if model else None,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "previous_versions": list(self.history),
            "faults": {
                "latency_ms": self.faults.latency_ms,
                "error_rate": self.faults.error_rate,
                "down": self.faults.down,
            },
        }
