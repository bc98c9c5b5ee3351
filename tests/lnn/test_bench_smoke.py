"""The benchmark's load generator works against the real server (a short, bounded run).

Needs Debian's wrk: fails without it under CI, skips without it elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from bench.lnn_load import lua_script, run_wrk
from lnn_service.server import bind, start, stop
from lnn_service.settings import Settings


@pytest.fixture
async def port(settings: Settings) -> AsyncIterator[int]:
    sock = bind("127.0.0.1", 0, reuse_port=False)
    runner, fast = await start(settings, sock)
    yield sock.getsockname()[1]
    await stop(runner, fast)


def test_lua_body_survives_binary_bytes() -> None:
    script = lua_script(b"\r\n\x00]]\xff", "application/octet-stream")
    assert 'wrk.body = "\\13\\10\\0\\93\\93\\255"' in script


@pytest.mark.binary
async def test_wrk_run_against_the_service(port: int) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is required under CI (Debian package wrk)")
        pytest.skip("wrk is not installed")
    import asyncio

    body = b'{"input": [0.1, -0.2, 0.8, 0.5]}'
    url = f"http://127.0.0.1:{port}/inference"
    # wrk blocks; run it in a thread so this loop keeps serving.
    result = await asyncio.to_thread(run_wrk, url, body, "application/json", 4, 1.0)
    assert result.requests > 0
    assert result.errors == 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.p999_ms
    bad = await asyncio.to_thread(run_wrk, url, b'{"input": [1]}', "application/json", 2, 1.0)
    assert bad.requests > 0
    assert bad.errors == bad.requests  # every 400 counts as a wrk status error
