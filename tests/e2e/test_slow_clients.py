"""Slow clients against a real ``firebreak serve``: heads and bodies that trickle are cut
within their bound and counted, while deliveries alongside stay fast, and idle keep-alive
connections are left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.support import slow_clients as bounds
from tests.support.payloads.alertmanager import alert, body, webhook
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    Service,
    firebreak_db_upgrade,
    firebreak_env,
    scrape_metric,
)
from tests.support.raw_http import base_address
from tests.support.slow_clients import assert_cut_within_bound, open_slow, paced, trickle

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 2.0
CUT = "firebreak_connections_cut_total"
HEAD = (
    b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)


async def start_bot(processes: Processes, database_url: str, tmp_path: Path) -> Service:
    env = firebreak_env(
        database_url,
        FIREBREAK_HEADER_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
        FIREBREAK_BODY_GRACE_SECONDS=str(bounds.BODY_GRACE),
        FIREBREAK_BODY_MIN_RATE=str(bounds.BODY_MIN_RATE),
    )
    if database_url.startswith("postgresql"):
        firebreak_db_upgrade(env, log_path=tmp_path / "upgrade.log", cwd=tmp_path)
    return await processes.firebreak("firebreak", env=env)


async def test_trickled_heads_are_cut_while_deliveries_stay_fast(
    processes: Processes, http: aiohttp.ClientSession, database_url: str, tmp_path: Path
) -> None:
    base = (await start_bot(processes, database_url, tmp_path)).base_url
    _, port = base_address(base)
    headers = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
    sent = 0

    async def deliver() -> int:
        nonlocal sent
        sent += 1
        payload = webhook(f'{{}}:{{alertname="Slow{sent}"}}', [alert(f"Slow{sent}")])
        async with http.post(
            base + "/webhooks/alertmanager", data=body(payload), headers=headers
        ) as response:
            await response.read()
            return response.status

    await deliver()  # the first delivery opens the keep-alive connection the rest reuse
    limit = HEAD_TIMEOUT + bounds.SLACK
    slow = await open_slow(bounds.SLOW_CONNECTIONS, port, HEAD, interval=1.0, limit_s=limit)
    # Deliveries for as long as the slow connections are open, and a little after.
    latencies = await paced(deliver, count=int(10 * (limit + 1)), per_second=10)
    lifetimes = await asyncio.gather(*slow)

    assert_cut_within_bound(latencies, lifetimes, status=202, bound=HEAD_TIMEOUT, limit=limit)
    assert await scrape_metric(http, base, CUT, reason="head") == bounds.SLOW_CONNECTIONS
    assert await scrape_metric(http, base, CUT, reason="body") == 0


async def test_a_trickled_body_is_cut_and_idle_keep_alive_is_not(
    processes: Processes, http: aiohttp.ClientSession, sqlite_url: str, tmp_path: Path
) -> None:
    bot = await start_bot(processes, sqlite_url, tmp_path)
    base = bot.base_url
    _, port = base_address(base)
    head = (
        b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + ALERTMANAGER_TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    # 4 bytes a second, far under the floor: cut once the grace and what it sent run out.
    limit = bounds.BODY_GRACE + bounds.SLACK
    lifetime = await trickle(port, b"[" * 100, interval=0.25, limit_s=limit, prefix=head)
    assert lifetime < limit
    assert await scrape_metric(http, base, CUT, reason="body") == 1
    # One line for the cut, and the handler that was reading the body ends without a trace.
    log = bot.log_path.read_text()
    assert log.count("closed a slow client") == 1, log
    assert "refused POST /webhooks/alertmanager" not in log, "a cut body logged a second line"
    assert "Traceback" not in log
    assert " ERROR " not in log

    # A keep-alive connection idle for longer than the head bound between two requests is
    # not a slow client: the second request on it is answered.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in range(2):
            if request:
                await asyncio.sleep(HEAD_TIMEOUT + 1)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := await asyncio.wait_for(reader.readline(), 5)) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await asyncio.wait_for(reader.readexactly(length), 5)
    finally:
        writer.close()
    assert await scrape_metric(http, base, CUT, reason="head") == 0
