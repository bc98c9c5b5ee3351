"""The wheel, not the checkout: build it, install it in a fresh virtual environment outside
the checkout, and run ``firebreak`` from a directory that is not the checkout.

The new environment gets the project's dependencies through a ``.pth`` line naming the test
environment's site-packages (installing them again would take minutes); firebreak itself
comes only from the wheel, which the test proves by asking where ``bot`` was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.payloads import alertmanager
from tests.support.processes import LOOPBACK, free_port, stop_process

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
# What setuptools needs to build the wheel; tests, bench and deploy are not shipped.
SOURCES = (
    "pyproject.toml",
    "README.md",
    "bot",
    "handlers",
    "actions",
    "db",
    "lnn_service",
    "httpguard",
)
BUILD_TIMEOUT_S = 120
READY_TIMEOUT_S = 30


def unavailable(message: str) -> None:
    """CI must run this test; a developer's machine may lack what it needs."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the wheel test must run in CI: {message}")
    pytest.skip(message)


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; its ``bin`` directory."""
    root = tmp_path_factory.mktemp("wheel")
    # Build from a copy so setuptools' build/ and egg-info stay out of the checkout.
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = CHECKOUT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = root / "dist"
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        cwd=root,
        env=env,
    )
    wheels = sorted(dist.glob("firebreak-*.whl"))
    if built.returncode != 0 or not wheels:
        unavailable(f"pip wheel failed:\n{built.stderr[-3000:]}")

    venv = root / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=env)
    if made.returncode != 0:
        unavailable(f"python -m venv failed:\n{made.stderr[-3000:]}")
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    done = run([*pip, "install", "--no-deps", "-q", str(wheels[0])], cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    # The dependencies: the test environment's site-packages, after the new one's own.
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=root,
        env=env,
    ).stdout.strip()
    (Path(purelib) / "firebreak-test-deps.pth").write_text(
        "".join(f"{path}\n" for path in site.getsitepackages())
    )
    return venv / "bin"


def test_bot_is_imported_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    proc = run(
        [str(installed / "python"), "-c", "import bot, db; print(bot.__file__, db.__file__)"],
        cwd=tmp_path,
        env=_env(installed),
    )
    assert proc.returncode == 0, proc.stderr
    for path in proc.stdout.split():
        assert Path(path).is_relative_to(installed.parent), path
        assert not Path(path).is_relative_to(CHECKOUT), path


def test_policy_check_of_the_shipped_default(installed: Path, tmp_path: Path) -> None:
    proc = run([str(installed / "firebreak"), "policy", "check"], cwd=tmp_path, env=_env(installed))
    assert proc.returncode == 0, proc.stderr
    checked, _, verdict = proc.stdout.partition(": ok: ")
    assert verdict, proc.stdout
    assert Path(checked).is_relative_to(installed.parent), checked


def test_lnn_lists_the_shipped_models(installed: Path, tmp_path: Path) -> None:
    proc = run([str(installed / "firebreak"), "lnn", "versions"], cwd=tmp_path, env=_env(installed))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["cartpole-v1", "cartpole-v2"]


def test_db_upgrade_then_serve_until_ready_and_take_an_alert(
    installed: Path, tmp_path: Path
) -> None:
    env = _env(
        installed,
        FIREBREAK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'fb.db'}",
        FIREBREAK_ALERTMANAGER_TOKEN="wheel-am-token",
        FIREBREAK_API_TOKEN="wheel-api-token",
    )
    firebreak = str(installed / "firebreak")
    upgraded = run([firebreak, "db", "upgrade"], cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr

    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [firebreak, "serve", "--host", LOOPBACK, "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://{LOOPBACK}:{port}"
    try:
        status = _wait_ready(f"{base}/readyz", server)
        assert status == 200, log_path.read_text(errors="replace")[-3000:]
        # The SQLite inbox stores the delivery through its writer process
        # (python -m db.intake.sqlite_worker), which must run from the wheel too.
        payload = alertmanager.webhook("wheel", [alertmanager.alert("LNNServiceDown")])
        accepted = _request(
            f"{base}/webhooks/alertmanager", "wheel-am-token", alertmanager.body(payload)
        )
        assert accepted == 202, log_path.read_text(errors="replace")[-3000:]
        assert _wait_incident(f"{base}/api/incidents", server), log_path.read_text(
            errors="replace"
        )[-3000:]
        # The web page's templates and stylesheet are package data: shipped in the wheel.
        status, page = _get(f"{base}/ui/sign-in")
        assert (status, '<form class="sign-in"' in page) == (200, True), page[-3000:]
        status, css = _get(f"{base}/ui/static/ui.css")
        assert (status, "prefers-color-scheme" in css) == (200, True), css[:500]
    finally:
        stop_process(server)


def _env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """A plain environment: no PYTHONPATH, no firebreak settings of the caller."""
    keep = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "TMPDIR"}}
    return {**keep, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def _request(url: str, token: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url,
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _wait_incident(url: str, server: subprocess.Popen[bytes]) -> bool:
    """Whether the API lists an incident before the deadline (the inbox processed it)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url, headers={"Authorization": "Bearer wheel-api-token"}
    )
    while time.monotonic() < deadline and server.poll() is None:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            if json.loads(response.read())["incidents"]:
                return True
        time.sleep(0.2)
    return False


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> int | None:
    """The first status /readyz answers, or None if the server exits or never answers."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return exc.code
        except OSError:
            pass
        time.sleep(0.2)
    return None
