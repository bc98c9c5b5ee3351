"""Fixtures for end-to-end tests: real processes, always stopped, with their logs printed
when a test fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from tests.support.processes import (
    Cluster,
    Service,
    start_alertmanager,
    start_firebreak,
    wait_http_ok,
)

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


class Processes:
    """Starts services for one test and stops every one of them afterwards."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Service] = []

    async def firebreak(
        self, name: str, *, env: Mapping[str, str], public_url: bool = False
    ) -> Service:
        service = start_firebreak(name, env=env, workdir=self.workdir, public_url=public_url)
        self.started.append(service)
        await wait_http_ok(service, "/readyz")
        return service

    async def alertmanager(
        self, name: str, *, config_text: str, cluster: Cluster | None = None
    ) -> Service:
        service = start_alertmanager(
            name, config_text=config_text, workdir=self.workdir, cluster=cluster
        )
        self.started.append(service)
        await wait_http_ok(service, "/-/ready")
        return service

    def logs(self) -> str:
        return "\n".join(service.describe() for service in self.started)

    def stop_all(self) -> None:
        # Alertmanagers first (they were started last), so they stop sending to the bot.
        for service in reversed(self.started):
            service.stop()


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path / "processes")
    try:
        yield procs
    finally:
        procs.stop_all()
        if request.node.stash.get(FAILED, False):
            # Shown in the failure report's teardown section.
            print(procs.logs())


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
