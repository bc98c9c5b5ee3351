"""A fake Kubernetes API server over real HTTP, for the real ``kubectl`` and
``kubernetes_asyncio``.

    fake = FakeKube()                                  # manual controller: fake.step()/settle()
    fake.add_deployment("prod", "lnn-service", replicas=3)   # already rolled out, revision 1
    async with run_fake_kube(fake) as url:             # http://127.0.0.1:<port>
        write_kubeconfig(tmp_path / "kubeconfig", url)   # tests/fakes/kube/kubeconfig.py
        ...                                            # kubectl or kubernetes_asyncio
        fake.settle()                                  # let the rollout finish
        assert fake.deployment("prod", "lnn-service")["status"]["updatedReplicas"] == 3

With ``progress_interval`` set, a background task steps the controller every that many
seconds while the server runs (what ``kubectl rollout status`` needs). Faults live in
``fake.faults`` (see ``KubeFaults``); every request is in ``fake.requests``.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.fakes.kube.apps import Deployments
from tests.fakes.kube.autoscaling import Autoscalers, hpa_object
from tests.fakes.kube.autoscaling_routes import add_autoscaling_routes
from tests.fakes.kube.controller import DeploymentController
from tests.fakes.kube.errors import KubeError
from tests.fakes.kube.faults import KubeFaults, RecordedKubeRequest
from tests.fakes.kube.objects import CHANGE_CAUSE, owned_by, revision
from tests.fakes.kube.pods import pods_of
from tests.fakes.kube.routes import FAKE_KUBE_KEY, add_routes, middleware
from tests.fakes.kube.state import ObjectStore

FAKE_KUBE_TOKEN = "fake-kube-token"
DEFAULT_IMAGE = "ghcr.io/example/lnn-service:1.0.0"
Obj = dict[str, Any]


class FakeKube:
    """State, deployment controller, faults and request log of one fake cluster."""

    def __init__(
        self,
        *,
        progress_interval: float | None = None,
        clock: Callable[[], float] = time.time,
        token: str = FAKE_KUBE_TOKEN,
        require_token: bool = False,
        seed: int = 0,
    ) -> None:
        """``progress_interval``: seconds between background controller rounds while served
        (None: only ``step()``/``settle()`` move rollouts). ``clock``: wall-clock epoch seconds
        for timestamps and progress deadlines. A wrong bearer token always gets 401; a missing
        one only with ``require_token``, because kubectl sends credentials over TLS only and
        the fake serves plain HTTP (like the API server's old insecure port)."""
        self.progress_interval = progress_interval
        self.clock = clock
        self.token = token
        self.require_token = require_token
        self.store = ObjectStore(clock=clock, seed=seed)
        self.faults = KubeFaults()
        self.controller = DeploymentController(self.store, self.faults)
        self.deployments = Deployments(self.store, self.faults)
        self.autoscalers = Autoscalers(self.store, self.faults)
        self.requests: list[RecordedKubeRequest] = []

    # -- setup -----------------------------------------------------------------------------
    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int = 3,
        image: str = DEFAULT_IMAGE,
        labels: dict[str, str] | None = None,
        paused: bool = False,
        container: str = "app",
        progress_deadline_seconds: int = 600,
        settle: bool = True,
    ) -> Obj:
        """Create a Deployment (selector ``app=<name>`` unless ``labels`` given); with
        ``settle`` (default) it is already rolled out: revision 1, all pods ready."""
        selector = labels or {"app": name}
        body: Obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(selector)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(selector)},
                "progressDeadlineSeconds": progress_deadline_seconds,
                "template": {
                    "metadata": {"labels": dict(selector)},
                    "spec": {"containers": [{"name": container, "image": image}]},
                },
            },
        }
        self.deployments.create(namespace, body, dry_run=False)
        if settle:
            self.settle()
        if paused:
            self.update_deployment(namespace, name, lambda d: d["spec"].update(paused=True))
            if settle:
                self.settle()
        return self.deployment(namespace, name)

    def add_hpa(
        self,
        namespace: str,
        name: str,
        *,
        target: str | None = None,
        min_replicas: int = 3,
        max_replicas: int = 10,
        settle: bool = True,
    ) -> Obj:
        """An autoscaling/v2 HPA on Deployment ``target`` (default: named like the HPA)."""
        body = hpa_object(
            namespace,
            name,
            target=target or name,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
        )
        self.autoscalers.create(body)
        if settle:
            self.settle()
        return self.hpa(namespace, name)

    def update_deployment(self, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj:
        """Apply ``change`` to a copy of the deployment and store it (bypassing faults)."""
        deployment = self.store.get("deployments", namespace, name)
        change(deployment)
        return self.store.update("deployments", deployment)

    def set_image(
        self, namespace: str, name: str, image: str, *, change_cause: str | None = None
    ) -> None:
        """Like ``kubectl set image``: every container gets ``image``; the controller rolls
        it out on its next rounds."""

        def change(deployment: Obj) -> None:
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                container["image"] = image
            if change_cause is not None:
                deployment["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = change_cause

        self.update_deployment(namespace, name, change)

    def set_paused(self, namespace: str, name: str, paused: bool) -> None:
        self.update_deployment(namespace, name, lambda d: d["spec"].update(paused=paused))

    def authenticate(self, authorization: str | None) -> None:
        if authorization is None and not self.require_token:
            return
        if authorization != f"Bearer {self.token}":
            raise KubeError(401, "Unauthorized")

    # -- inspection ------------------------------------------------------------------------
    def deployment(self, namespace: str, name: str) -> Obj:
        return self.store.get("deployments", namespace, name)

    def hpa(self, namespace: str, name: str) -> Obj:
        return self.store.get("horizontalpodautoscalers", namespace, name)

    def replicasets(self, namespace: str, name: str) -> list[Obj]:
        """ReplicaSets owned by the deployment, oldest revision first."""
        deployment = self.deployment(namespace, name)
        owned = [rs for rs in self.store.list("replicasets", namespace) if owned_by(rs, deployment)]
        return sorted(owned, key=revision)

    def pods(self, namespace: str, name: str) -> list[Obj]:
        """Pods of the deployment's ReplicaSets."""
        return [pod for rs in self.replicasets(namespace, name) for pod in pods_of(self.store, rs)]

    def events(self, namespace: str, involved_name: str | None = None) -> list[Obj]:
        return [
            event
            for event in self.store.list("events", namespace)
            if involved_name in (None, event["involvedObject"]["name"])
        ]

    def namespace_names(self) -> list[str]:
        return sorted({"default", "kube-system", *self.store.namespaces()})

    def writes(self, *, include_dry_run: bool = True) -> list[RecordedKubeRequest]:
        """The write requests received, in order (dry runs included unless told otherwise)."""
        return [r for r in self.requests if r.is_write and (include_dry_run or not r.dry_run)]

    # -- the controller --------------------------------------------------------------------
    def step(self) -> None:
        """One controller round: the HPAs' bounds, then every deployment."""
        self.autoscalers.step()
        self.controller.step()

    def settle(self, max_steps: int = 1000) -> int:
        """Step until a round changes nothing (or ``max_steps``); returns the rounds taken.
        A hung rollout settles too: its pods stay unready until the clock moves."""
        for steps in range(1, max_steps + 1):
            before = self.store.revision
            self.step()
            if self.store.revision == before:
                return steps
        return max_steps

    def snapshot(self) -> Obj:
        """Deep copies of everything stored, for before/after comparisons."""
        return {
            resource: copy.deepcopy(self.store.list(resource))
            for resource in ("deployments", "replicasets", "pods")
        }


def create_app(fake: FakeKube) -> web.Application:
    app = web.Application(middlewares=[middleware], client_max_size=4 * 1024**2)
    app[FAKE_KUBE_KEY] = fake
    add_routes(app)
    add_autoscaling_routes(app)
    return app


async def _progress(fake: FakeKube, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        fake.step()


@asynccontextmanager
async def run_fake_kube(fake: FakeKube) -> AsyncIterator[str]:
    """Serve ``fake`` on 127.0.0.1, port 0; yields the base URL (``http://127.0.0.1:PORT``)."""
    runner = web.AppRunner(create_app(fake), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    task = None
    if fake.progress_interval is not None:
        task = asyncio.create_task(_progress(fake, fake.progress_interval))
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        outcome: BaseException | None = None
        if task is not None:
            task.cancel()
            (outcome,) = await asyncio.gather(task, return_exceptions=True)
        fake.store.close_watchers()
        await runner.cleanup()
        if isinstance(outcome, Exception):  # a bug in the fake: do not let it pass unseen
            raise RuntimeError("the fake Kubernetes controller failed") from outcome
