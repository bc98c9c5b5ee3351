"""The fake Kubernetes API's HorizontalPodAutoscalers, checked with the real kubectl: discovery
(``hpa`` short name), ``kubectl get hpa`` (table and JSON), ``kubectl patch hpa`` (strategic,
merge and JSON patch, and a server-side dry run), and the fake HPA controller following."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fakes.kube.server import FakeKube
from tests.support.binaries import need
from tests.support.kube_cluster import NAME, NS, kubectl, serve

pytestmark = pytest.mark.binary


@pytest.fixture
def kubectl_binary() -> str:
    return need("kubectl")


def _fake() -> FakeKube:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3)
    fake.add_hpa(NS, NAME, min_replicas=3, max_replicas=10)
    return fake


async def _run(binary: str, config: Path, *args: str) -> str:
    done = await asyncio.to_thread(kubectl, binary, config, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_kubectl_gets_the_hpa(kubectl_binary: str, tmp_path: Path) -> None:
    async with serve(_fake(), tmp_path) as kube:
        table = (await _run(kubectl_binary, kube.kubeconfig, "get", "hpa")).splitlines()
        assert table[0].split() == [
            "NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"
        ]  # fmt: skip
        row = table[1].split()
        assert row[:2] == [NAME, f"Deployment/{NAME}"]
        assert row[3:6] == ["3", "10", "3"]
        listed = json.loads(await _run(kubectl_binary, kube.kubeconfig, "get", "hpa", "-o", "json"))
        assert [h["metadata"]["name"] for h in listed["items"]] == [NAME]
        one = json.loads(
            await _run(kubectl_binary, kube.kubeconfig, "get", f"hpa/{NAME}", "-o", "json")
        )
        assert one["apiVersion"] == "autoscaling/v2"
        assert one["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": NAME,
        }


async def test_kubectl_patches_the_hpa_and_the_deployment_follows(
    kubectl_binary: str, tmp_path: Path
) -> None:
    fake = _fake()
    async with serve(fake, tmp_path) as kube:
        config = kube.kubeconfig
        await _run(kubectl_binary, config, "patch", "hpa", NAME, "--dry-run=server",
                   "-p", '{"spec":{"minReplicas":6}}')  # fmt: skip
        assert fake.hpa(NS, NAME)["spec"]["minReplicas"] == 3
        await _run(kubectl_binary, config, "patch", "hpa", NAME, "-p", '{"spec":{"minReplicas":6}}')
        assert fake.hpa(NS, NAME)["spec"]["minReplicas"] == 6
        await _run(kubectl_binary, config, "patch", "hpa", NAME, "--type=merge",
                   "-p", '{"spec":{"maxReplicas":8}}')  # fmt: skip
        await _run(kubectl_binary, config, "patch", "hpa", NAME, "--type=json",
                   "-p", '[{"op":"replace","path":"/spec/minReplicas","value":5}]')  # fmt: skip
        hpa = fake.hpa(NS, NAME)["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (5, 8)
        refused = await asyncio.to_thread(
            kubectl, kubectl_binary, config, "patch", "hpa", NAME, "--type=merge",
            "-p", '{"spec":{"minReplicas":9}}',
        )  # fmt: skip
        assert refused.returncode != 0
        assert "must be greater than or equal to `minReplicas`" in refused.stderr
        fake.settle()
        assert fake.deployment(NS, NAME)["spec"]["replicas"] == 5  # the floor, within 8
        assert [r.dry_run for r in fake.writes()][:1] == [True]
