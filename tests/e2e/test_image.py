"""The container image, built from the top-level Dockerfile and run for real with podman.

The base image is a debootstrap'd Debian (no registry is reachable here), made once per
machine and cached (see ``tests/support/image.py``); the build itself reaches PyPI. Each
container runs on the host network with the app on 127.0.0.1, a read-only root filesystem
(as the manifests ask) and a tmpfs where it writes, and is removed afterwards, its logs
attached to a failure.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.support.image import CHECKOUT, ULIMITS, Podman, build, ensure_base, running
from tests.support.processes import LOOPBACK, free_port

# The first run on a machine makes the base image and builds every layer: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(1800)]

TAG = "localhost/firebreak:test"
UID = 10001
# What the manifests give every container: a read-only root, a writable data directory.
READ_ONLY = ("--read-only", "--tmpfs", "/var/lib/firebreak:U")


@pytest.fixture(scope="module")
def podman() -> Podman:
    return Podman.find()


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    started = time.monotonic()
    base = ensure_base(podman)
    based = time.monotonic()
    build(podman, base, TAG)
    print(f"base image {base}: {based - started:.0f}s; build: {time.monotonic() - based:.0f}s")
    return TAG


def healthcheck_test(podman: Podman, image: str) -> list[str]:
    """The image's HEALTHCHECK command (exec form), as ``podman image inspect`` reports it."""
    check = podman.inspect_image(image).get("Healthcheck")
    assert isinstance(check, dict), "the image has no HEALTHCHECK (built in OCI format?)"
    test = check["Test"]
    assert isinstance(test, list), test
    assert test[0] == "CMD", test
    return [str(word) for word in test[1:]]


def test_the_image_runs_firebreak_as_the_manifests_non_root_user(
    podman: Podman, image: str
) -> None:
    config = podman.inspect_image(image)["Config"]
    assert isinstance(config, dict)
    assert config["Entrypoint"] == ["firebreak"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Cmd"][0] == "serve"
    # Every manifest runs the image as this uid; a drift here breaks them all.
    users = [
        (manifest.name, line.split(":", 1)[1].strip())
        for manifest in sorted((CHECKOUT / "deploy" / "base").glob("*.yaml"))
        for line in manifest.read_text().splitlines()
        if "runAsUser:" in line
    ]
    assert users
    assert {uid for _, uid in users} == {str(UID)}, users


def test_serve_answers_health_and_readiness_on_sqlite_as_non_root(
    podman: Podman, image: str
) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    command = healthcheck_test(podman, image)
    env = {"FIREBREAK_HEALTHCHECK_URL": f"{url}/healthz"}
    with running(
        podman, image, ["serve", "--host", LOOPBACK, "--port", str(port)], env, READ_ONLY
    ) as container:
        status, body = container.wait_http(f"{url}/readyz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"
        status, body = container.wait_http(f"{url}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        uid = container.exec("id", "-u")
        assert uid.returncode == 0, uid.stderr
        assert int(uid.stdout) == UID

        # The database the image defaults to is the SQLite file in its data directory.
        listed = container.exec("ls", "/var/lib/firebreak")
        assert "firebreak.db" in listed.stdout.split(), listed

        checked = podman.run("healthcheck", "run", container.name, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # The same command against a port nothing listens on must fail, or it checks nothing.
        refused = container.exec(
            "env", f"FIREBREAK_HEALTHCHECK_URL=http://{LOOPBACK}:{free_port()}/healthz", *command
        )
        assert refused.returncode != 0


def test_db_upgrade_runs_and_exits(podman: Podman, image: str) -> None:
    done = podman.run(
        "run",
        "--rm",
        "--network",
        "none",
        *READ_ONLY,
        *ULIMITS,
        image,
        "db",
        "upgrade",
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_lnn_serve_is_ready_with_its_golden_check(podman: Podman, image: str) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    env = {"FIREBREAK_HEALTHCHECK_URL": f"{url}/health"}
    with running(
        podman, image, ["lnn", "serve", "--host", LOOPBACK, "--port", str(port)], env, READ_ONLY
    ) as container:
        # /ready answers 200 only once the loaded model gives its manifest's golden output.
        status, body = container.wait_http(f"{url}/ready")
        assert status == 200, body
        ready = json.loads(body)
        assert ready["ready"] is True
        versions = sorted(p.name for p in (CHECKOUT / "lnn_service" / "models").iterdir())
        assert ready["model_version"] == versions[-1]

        checked = podman.run("healthcheck", "run", container.name, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def model_check_step() -> str:
    """The Dockerfile's RUN instruction that verifies the model artifacts, as a shell command."""
    text = (CHECKOUT / "Dockerfile").read_text().replace("\\\n", " ")
    (step,) = [
        line for line in text.splitlines() if line.startswith("RUN ") and "Registry(" in line
    ]
    return step.removeprefix("RUN ")


def test_the_builds_model_check_fails_on_a_changed_artifact(
    podman: Podman, image: str, tmp_path: Path
) -> None:
    step = model_check_step()
    where = podman.run(
        "run", "--rm", "--network", "none", *ULIMITS, "--entrypoint", "python3", image, "-c",
        "from lnn_service.settings import DEFAULT_MODEL_DIR; print(DEFAULT_MODEL_DIR)",
    )  # fmt: skip
    models_in_image = where.stdout.strip()
    check = ["run", "--rm", "--network", "none", *ULIMITS, "--entrypoint", "/bin/sh"]

    intact = podman.run(*check, image, "-c", step, check=False)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "model artifacts verified: cartpole-v1 cartpole-v2" in intact.stdout

    # The same step over a copy of the models with one byte of one file changed.
    models = tmp_path / "models"
    shutil.copytree(CHECKOUT / "lnn_service" / "models", models)
    weights = models / "cartpole-v1" / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    mount = f"{models}:{models_in_image}:ro"
    changed = podman.run(*check, "--volume", mount, image, "-c", step, check=False)
    assert changed.returncode != 0, changed.stdout
    assert "weights.npz: sha256" in changed.stderr, changed.stderr
