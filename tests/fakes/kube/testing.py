"""Helpers for tests against the fake Kubernetes API: a hand-moved clock, and the real
``kubectl`` run as a subprocess (without blocking the event loop that serves the fake)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class ManualClock:
    """Wall-clock epoch seconds that only move when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass(frozen=True, slots=True)
class KubectlResult:
    returncode: int
    stdout: str
    stderr: str


@dataclasses.dataclass(frozen=True, slots=True)
class Kubectl:
    """The real kubectl, pointed at a kubeconfig, with a private HOME (discovery cache)."""

    binary: str
    kubeconfig: Path
    home: Path

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return await asyncio.create_subprocess_exec(
            self.binary,
            f"--kubeconfig={self.kubeconfig}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )

    async def run(self, *args: str, timeout: float = 60.0, check: bool = True) -> KubectlResult:
        """Run kubectl to completion; with ``check``, a non-zero exit fails with its stderr."""
        process = await self.start(*args)
        return await self.wait(process, timeout=timeout, check=check, args=args)

    async def wait(
        self,
        process: asyncio.subprocess.Process,
        *,
        timeout: float = 60.0,
        check: bool = True,
        args: tuple[str, ...] = (),
    ) -> KubectlResult:
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        result = KubectlResult(process.returncode or 0, stdout.decode(), stderr.decode())
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result
