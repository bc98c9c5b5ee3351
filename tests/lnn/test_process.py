"""``python -m lnn_service serve`` as a real process: serves, switches, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, body: dict[str, object] | None = None, token: str | None = None) -> object:
    assert url.startswith("http://127.0.0.1:")  # loopback only
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=data, method="GET" if body is None else "POST"
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_switch_and_terminate(registry_dir: Path, workers: int) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LNN_MODEL_DIR": str(registry_dir),
        "LNN_ADMIN_TOKEN": "tok",
        "LNN_MODEL_VERSION": "cartpole-v1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lnn_service",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call(f"{base}/ready")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, "server exited during start-up"
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.2)
        answer = call(f"{base}/inference", {"input": [0.1, -0.2, 0.8, 0.5]})
        assert isinstance(answer, dict)
        assert answer["model_version"] == "cartpole-v1"
        if workers == 1:
            switched = call(f"{base}/admin/model", {"version": "cartpole-v2"}, token="tok")
            assert isinstance(switched, dict)
            assert switched["model_version"] == "cartpole-v2"
            answer = call(f"{base}/inference", {"input": [0.1, -0.2, 0.8, 0.5]})
            assert isinstance(answer, dict)
            assert answer["model_version"] == "cartpole-v2"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
