"""The Kubernetes manifests as ``kubectl kustomize`` renders them (the real kubectl)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.binaries import need

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE = DEPLOY / "base"
OVERLAYS = DEPLOY / "overlays"

Doc = dict[str, Any]


def overlays() -> list[Path]:
    """Every overlay directory (each holds a kustomization.yaml)."""
    return sorted(path.parent for path in OVERLAYS.glob("*/kustomization.yaml"))


def render(directory: Path) -> list[Doc]:
    """The objects ``kubectl kustomize DIRECTORY`` prints; fails with kubectl's error."""
    kubectl = need("kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def only(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [doc for doc in of_kind(docs, kind) if name is None or doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for every object that runs pods."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield doc, doc["spec"]


def selector_text(match_labels: dict[str, str]) -> str:
    """``matchLabels`` as a kubectl ``-l`` selector: ``k=v,k2=v2`` in key order."""
    return ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))
