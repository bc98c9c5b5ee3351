"""Shared set-up for the actuator's integration tests: a fake Kubernetes API on loopback, a
kubeconfig for it, and a ``KubeCluster`` built from that kubeconfig as production builds it."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from actions.cluster import KubeCluster
from tests.fakes.kube.faults import RecordedKubeRequest
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube

NS = "prod"
NAME = "lnn-service"


@dataclass
class Kube:
    fake: FakeKube
    cluster: KubeCluster
    kubeconfig: Path

    def writes(self) -> list[RecordedKubeRequest]:
        return self.fake.writes()


@asynccontextmanager
async def serve(fake: FakeKube, directory: Path) -> AsyncIterator[Kube]:
    async with run_fake_kube(fake) as url:
        config = write_kubeconfig(directory / "kubeconfig", url, namespace=NS)
        async with await KubeCluster.from_kubeconfig(config, request_timeout=5.0) as cluster:
            yield Kube(fake, cluster, config)


def kubectl(binary: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against the fake (from a thread: the fake serves on this loop)."""
    return subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), "--request-timeout=10s", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
