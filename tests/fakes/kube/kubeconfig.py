"""A kubeconfig for the fake Kubernetes API (plain HTTP on loopback, a bearer token), usable by
``kubectl --kubeconfig`` and by ``kubernetes_asyncio.config.load_kube_config``."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.fakes.kube.server import FAKE_KUBE_TOKEN

CONTEXT = "fake"


def kubeconfig(
    base_url: str, *, namespace: str = "default", token: str = FAKE_KUBE_TOKEN
) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": base_url}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, base_url: str, *, namespace: str = "default", token: str = FAKE_KUBE_TOKEN
) -> Path:
    """Write a kubeconfig for ``base_url`` to ``path`` (mode 0600) and return the path."""
    path.write_text(yaml.safe_dump(kubeconfig(base_url, namespace=namespace, token=token)))
    path.chmod(0o600)
    return path
