"""Slow clients against a real ``lnn serve``: trickled heads and bodies are cut within their
bound on the fast path and after its hand-over to aiohttp, and counted, while inferences
alongside stay fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import slow_clients as bounds
from tests.support.lnn_process import lnn_serve
from tests.support.processes import Service, scrape_metric
from tests.support.raw_http import base_address
from tests.support.slow_clients import assert_cut_within_bound, open_slow, paced, trickle

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 3.0
CUT = "lnn_connections_cut_total"
BODY = b'{"input": [0.1, -0.2, 0.8, 0.5]}'
INFERENCE = (
    b"POST /inference HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY)
) + BODY


@pytest.fixture
async def lnn(registry_dir: Path, tmp_path: Path) -> AsyncIterator[Service]:
    async with lnn_serve(
        registry_dir,
        tmp_path,
        LNN_HEADER_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
        LNN_BODY_GRACE_SECONDS=str(bounds.BODY_GRACE),
        LNN_BODY_MIN_RATE=str(bounds.BODY_MIN_RATE),
    ) as service:
        yield service


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def test_trickled_heads_are_cut_while_inferences_stay_fast(
    lnn: Service, http: aiohttp.ClientSession
) -> None:
    async def infer() -> int:
        async with http.post(lnn.base_url + "/inference", data=BODY) as response:
            await response.read()
            return response.status

    await infer()  # opens the keep-alive connection the rest reuse
    limit = HEAD_TIMEOUT + bounds.SLACK
    slow = await open_slow(
        bounds.SLOW_CONNECTIONS,
        base_address(lnn.base_url)[1],
        INFERENCE,
        interval=1.0,
        limit_s=limit,
    )
    latencies = await paced(infer, count=int(20 * (limit + 1)), per_second=20)
    lifetimes = await asyncio.gather(*slow)
    assert_cut_within_bound(latencies, lifetimes, status=200, bound=HEAD_TIMEOUT, limit=limit)
    assert await scrape_metric(http, lnn.base_url, CUT, reason="head") == bounds.SLOW_CONNECTIONS


async def test_the_head_clock_survives_the_hand_over_to_aiohttp(
    lnn: Service, http: aiohttp.ClientSession
) -> None:
    # Most of a head the fast path keeps waiting for, then (after most of the bound) enough
    # to pass its 8 KiB limit: aiohttp takes over mid-head, and the clock goes on from the
    # first byte rather than starting again at the hand-over.
    lines = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 90) for i in range(90))
    head = b"POST /inference HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines
    early, late = head[:8000], head[8000:]
    assert len(head) > 8192
    waited = HEAD_TIMEOUT - 0.5
    lifetime = await trickle(
        base_address(lnn.base_url)[1],
        b"X-Slow: " + b"s" * 20,
        interval=1.0,
        limit_s=HEAD_TIMEOUT + bounds.SLACK,
        prefix=early,
        first_delay=waited,
        then=late,
    )
    assert lifetime < waited + HEAD_TIMEOUT, lifetime  # it would be cut no sooner if restarted
    assert await scrape_metric(http, lnn.base_url, CUT, reason="head") == 1


@pytest.mark.parametrize("path", ["/inference", "/inference/batch"])
async def test_a_trickled_body_is_cut_on_either_path(
    lnn: Service, http: aiohttp.ClientSession, path: str
) -> None:
    # /inference is the fast path's; /inference/batch goes to aiohttp.
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 60000\r\n\r\n"
    ).encode()
    limit = bounds.BODY_GRACE + bounds.SLACK
    lifetime = await trickle(
        base_address(lnn.base_url)[1], b" " * 100, interval=0.25, limit_s=limit, prefix=head
    )
    assert lifetime < limit
    assert await scrape_metric(http, lnn.base_url, CUT, reason="body") == 1
    log = lnn.log_path.read_text()
    assert log.count("closed a slow client") == 1, log
    assert "Traceback" not in log


async def test_without_the_fast_path_aiohttp_cuts_trickled_heads(
    registry_dir: Path, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with lnn_serve(
        registry_dir,
        tmp_path,
        LNN_FAST_PATH="false",
        LNN_HEADER_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
    ) as service:
        limit = HEAD_TIMEOUT + bounds.SLACK
        slow = await open_slow(
            20, base_address(service.base_url)[1], INFERENCE, interval=1.0, limit_s=limit
        )
        lifetimes = await asyncio.gather(*slow)
        assert max(lifetimes) < limit, lifetimes
        assert min(lifetimes) >= HEAD_TIMEOUT - 0.1
        assert await scrape_metric(http, service.base_url, CUT, reason="head") == 20
