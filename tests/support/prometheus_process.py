"""A real Prometheus scraping a real LNN service under light load, on loopback: the
configuration the launcher writes (the shipped rules, shortened), scraped every second so a
test has a minute's worth of points within a minute."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from launcher import prometheus as prom_config
from launcher.load import Load, generate
from tests.support.binaries import need
from tests.support.processes import (
    LOOPBACK,
    Service,
    firebreak_executable,
    free_port,
    spawn,
    wait_http_ok,
)

ROOT = Path(__file__).resolve().parents[2]
# Enough requests for the latency histogram and the throughput counter to move, at a
# fraction of a core.
LIGHT_LOAD = Load(rows=20, per_second=20.0, max_in_flight=4)


@dataclass
class ScrapedLnn:
    """The running pair: Prometheus at ``prometheus.base_url`` scraping ``lnn``."""

    prometheus: Service
    lnn: Service

    async def rule(self, alert: str, severity: str) -> str:
        """The expression of the loaded alerting rule ``alert`` with that severity label."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.prometheus.base_url + "/api/v1/rules") as response,
        ):
            answer: dict[str, Any] = await response.json()
        for group in answer["data"]["groups"]:
            for rule in group["rules"]:
                labels = rule.get("labels", {})
                if rule.get("name") == alert and labels.get("severity") == severity:
                    return str(rule["query"])
        raise AssertionError(f"Prometheus has no rule {alert} ({severity})")


@asynccontextmanager
async def scraped_lnn(workdir: Path) -> AsyncIterator[ScrapedLnn]:
    """``firebreak lnn serve`` under ``LIGHT_LOAD`` and Prometheus scraping it every second
    with the shipped rules (windows of 20 s); both stopped afterwards."""
    binary = need("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    lnn_port, prom_port = free_port(), free_port()
    lnn = Service(
        "lnn-service",
        f"http://{LOOPBACK}:{lnn_port}",
        spawn(
            [firebreak_executable(), "lnn", "serve", "--host", LOOPBACK, "--port", str(lnn_port)],
            env=env,
            log_path=workdir / "lnn.log",
            cwd=workdir,
        ),
        workdir / "lnn.log",
    )
    services = [lnn]
    stop = asyncio.Event()
    load: asyncio.Task[Any] | None = None
    try:
        await wait_http_ok(lnn, "/ready", timeout=60)
        load = asyncio.create_task(generate(lnn.base_url, LIGHT_LOAD, stop))
        home = workdir / "prometheus"
        config = prom_config.write(
            home,
            root=ROOT,
            targets=[prom_config.lnn_target(f"{LOOPBACK}:{lnn_port}")],
            # Nothing listens there: alerts are not what these tests look at.
            alertmanager=f"{LOOPBACK}:{free_port()}",
            window="20s",
            for_="10s",
            interval="1s",
        )
        address = f"{LOOPBACK}:{prom_port}"
        prometheus = Service(
            "prometheus",
            f"http://{address}",
            spawn(
                prom_config.argv(binary, config=config, data_dir=home / "data", listen=address),
                env=env,
                log_path=workdir / "prometheus.log",
                cwd=workdir,
            ),
            workdir / "prometheus.log",
        )
        services.append(prometheus)
        await wait_http_ok(prometheus, "/-/ready", timeout=60)
        yield ScrapedLnn(prometheus=prometheus, lnn=lnn)
    finally:
        stop.set()
        if load is not None:
            await asyncio.wait_for(load, timeout=30)
        for service in reversed(services):
            service.stop()
