"""``python -m lnn_service serve`` as a real process on a free loopback port."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support.processes import LOOPBACK, Service, free_port, spawn, wait_http_ok


@asynccontextmanager
async def lnn_serve(registry_dir: Path, workdir: Path, **env: str) -> AsyncIterator[Service]:
    """A ready service (``/ready`` answers 200), stopped with SIGTERM afterwards."""
    port = free_port()
    full_env = {
        **os.environ,
        "LNN_MODEL_DIR": str(registry_dir),
        "LNN_MODEL_VERSION": "cartpole-v1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    argv = [sys.executable, "-m", "lnn_service", "serve", "--host", LOOPBACK, "--port", str(port)]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "lnn.log"
    process = spawn(argv, env=full_env, log_path=log_path, cwd=workdir)
    service = Service("lnn", f"http://{LOOPBACK}:{port}", process, log_path)
    try:
        await wait_http_ok(service, "/ready")
        yield service
    finally:
        service.stop()
