"""The launcher's child processes, real and short-lived: noticing one exit, and stopping all
of them, never leave one running because a wait on another was cancelled."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from launcher.children import Child, first_exit, stop_all

DEADLINE_S = 30.0
# Exits at once, but its background sleep (same process group) keeps stdout open, so the
# output copy is still running when the process has exited.
EXITS_WITH_OUTPUT_OPEN = ["sh", "-c", "sleep 60 & echo started"]
IGNORES_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n",
]


def child(tmp_path: Path, name: str, argv: list[str]) -> Child:
    return Child(
        name, argv, env=dict(os.environ), cwd=tmp_path, log_path=tmp_path / f"{name}.log", echo=None
    )


async def until_logged(member: Child, text: str) -> None:
    async def poll() -> None:
        while not (member.log_path.exists() and text in member.log_path.read_text()):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), DEADLINE_S)


async def test_first_exit_names_the_exited_child_while_its_output_is_still_open(
    tmp_path: Path,
) -> None:
    lasting = child(tmp_path, "lasting", ["sleep", "60"])
    quick = child(tmp_path, "quick", EXITS_WITH_OUTPUT_OPEN)
    started = [lasting, quick]
    try:
        for member in started:
            await member.start()
        assert await asyncio.wait_for(first_exit(started), DEADLINE_S) is quick
    finally:
        failures = await stop_all(started)
    assert failures == []
    assert quick.returncode == 0
    assert lasting.returncode == -signal.SIGTERM
    # The stop killed the background sleep, so the copy reached the end of the output.
    assert "started" in quick.log_path.read_text()


async def test_a_line_longer_than_a_chunk_is_copied_and_the_child_still_stopped(
    tmp_path: Path,
) -> None:
    long_line = "x" * 200_000
    writer = child(
        tmp_path,
        "writer",
        [sys.executable, "-c", f"print('x' * {len(long_line)}); print('after', flush=True)"],
    )
    lasting = child(tmp_path, "lasting", ["sleep", "60"])
    started = [lasting, writer]
    try:
        for member in started:
            await member.start()
        assert await asyncio.wait_for(writer.exited(), DEADLINE_S) == 0
    finally:
        failures = await stop_all(started)
    assert failures == []
    assert lasting.returncode == -signal.SIGTERM
    output = writer.log_path.read_text().split("\n", 1)[1]  # after the command line
    assert output.replace("\n", "") == long_line + "after"
    assert output.endswith("after\n")


async def test_stopping_the_rest_goes_on_when_one_stop_is_cancelled(tmp_path: Path) -> None:
    plain = child(tmp_path, "plain", ["sleep", "60"])
    stubborn = child(tmp_path, "stubborn", IGNORES_SIGTERM)
    started = [plain, stubborn]
    try:
        for member in started:
            await member.start()
        await until_logged(stubborn, "ready")
        stopping = asyncio.create_task(stop_all(started))
        await asyncio.sleep(0)  # stop_all has sent SIGTERM to the stubborn one and waits
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        assert plain.returncode == -signal.SIGTERM
        # The cancelled stop still killed the one it was waiting for.
        assert await asyncio.wait_for(stubborn.exited(), DEADLINE_S) == -signal.SIGKILL
    finally:
        for member in started:
            await member.stop(grace=0)
