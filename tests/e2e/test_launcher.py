"""``make run``'s launcher as a newcomer uses it: start it, fire a drill, see the incident
open (with its card in the log, Slack being unconfigured), lift the drill, see the incident
resolve, press Ctrl-C, and find every process it started gone and the exit status 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from launcher import envfile
from tests.support.binaries import need
from tests.support.processes import firebreak_executable, free_port, poll_until, tail

pytestmark = [pytest.mark.slow, pytest.mark.binary, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
# Settings of the developer's shell that would point the launcher elsewhere.
FOREIGN = ("FIREBREAK_", "SLACK_", "LNN_", "PAGERDUTY_", "KUBECONFIG")


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    work_dir: Path
    output: Path
    bot_url: str

    def logs(self) -> str:
        parts = [f"--- launcher output ---\n{tail(self.output, 12000)}"]
        for log in sorted((self.work_dir / "logs").glob("*.log")):
            parts.append(f"--- {log.name} ---\n{tail(log)}")
        return "\n".join(parts)

    def descendants(self) -> set[int]:
        """Every process below the launcher, grandchildren included (the bot's writer)."""
        found: set[int] = set()
        todo = [self.process.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    children = (task / "children").read_text().split()
                except OSError:
                    continue
                for child in map(int, children):
                    if child not in found:
                        found.add(child)
                        todo.append(child)
        return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Launched]:
    need("prometheus")
    need("prometheus-alertmanager")
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env["PYTHONUNBUFFERED"] = "1"
    ports = {name: free_port() for name in ("bot", "lnn", "prometheus", "alertmanager")}
    work_dir = tmp_path / "work"
    output = tmp_path / "launcher.out"
    argv = [sys.executable, "-m", "launcher", "--work-dir", str(work_dir), "--root", str(ROOT)]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    with output.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    run = Launched(process, work_dir, output, f"http://127.0.0.1:{ports['bot']}")
    seen: set[int] = set()
    try:
        yield run
    finally:
        seen |= run.descendants()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in seen:  # only after a failure: the test itself checks they are gone
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        # Captured: pytest shows it in the report of a failed test only.
        print(run.logs())


def drill(run: Launched, *args: str) -> str:
    result = subprocess.run(
        [firebreak_executable(), "--env-file", str(run.work_dir / "env"), "drill", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr + run.logs()
    return result.stdout


async def page_through_the_banners_link(run: Launched, page_url: str) -> str:
    """Sign in with the link the banner printed, as a browser would; then ``page_url``."""
    found = re.search(r"^  web page +(\S+)", run.output.read_text(), re.MULTILINE)
    assert found is not None, run.output.read_text()[:2000]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(found.group(1)) as form:
            assert form.status == 200, await form.text()
            fields = dict(
                re.findall(r'name="(csrf|ticket|next)" value="([^"]*)"', await form.text())
            )
        assert set(fields) == {"csrf", "ticket", "next"}
        sign_in = f"{run.bot_url}/ui/sign-in"
        async with browser.post(sign_in, data=fields, allow_redirects=False) as signed:
            assert signed.status == 303, await signed.text()
        async with browser.get(page_url, allow_redirects=False) as page:
            assert page.status == 200, await page.text()
            return await page.text()


async def test_a_drill_opens_an_incident_and_lifting_it_resolves_it(launched: Launched) -> None:
    run = launched

    async def ready() -> bool | None:
        if run.process.poll() is not None:
            pytest.fail(f"the launcher exited ({run.process.returncode})\n{run.logs()}")
        return True if "ready: every component answers" in tail(run.output, 100_000) else None

    await poll_until(ready, timeout=120, what="the launcher ready", context=run.logs)
    head = run.output.read_text().splitlines()[0]
    assert head.startswith("firebreak: the whole loop on loopback"), head
    token = envfile.read(run.work_dir / "env")["FIREBREAK_API_TOKEN"]
    assert token not in run.output.read_text(), "the banner names the token's file, not it"
    headers = {"Authorization": f"Bearer {token}"}
    children = run.descendants()
    assert len(children) >= 4, "lnn-service, bot, alertmanager, prometheus (and theirs)"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def incidents() -> list[dict[str, Any]]:
            async with http.get(f"{run.bot_url}/api/incidents", headers=headers) as response:
                assert response.status == 200, await response.text()
                found: list[dict[str, Any]] = (await response.json())["incidents"]
                return found

        assert await incidents() == [], "a quiet start opens nothing"
        assert "LNNHighLatency" in drill(run, "latency")

        async def opened() -> dict[str, Any] | None:
            for incident in await incidents():
                if incident["scenario"] == "high-latency" and incident["status"] != "resolved":
                    return incident
            return None

        incident = await poll_until(
            opened, timeout=150, interval=1.0, what="the latency incident", context=run.logs
        )
        assert incident["severity"] == "P1"
        assert incident["labels"].get("namespace") in ("firebreak", None)
        bot_log = run.work_dir / "logs" / "bot.log"

        async def card_logged() -> bool | None:
            text = tail(bot_log, 200_000)
            marker = f"incident {incident['id']}: chat.postMessage to the incident's channel"
            return True if marker in text and "buttons: [Acknowledge]" in text else None

        await poll_until(
            card_logged, timeout=30, what="the card in the bot's log", context=run.logs
        )
        # The card links to the incident's page, and the banner's sign-in link opens it.
        page_url = f"{run.bot_url}/ui/incidents/{incident['id']}"
        assert f"open the incident page ({page_url})" in tail(bot_log, 200_000)
        page = await page_through_the_banners_link(run, page_url)
        assert "LNNHighLatency" in page

        drill(run, "--off")

        async def resolved() -> dict[str, Any] | None:
            for current in await incidents():
                if current["id"] == incident["id"] and current["status"] == "resolved":
                    return current
            return None

        await poll_until(
            resolved, timeout=180, interval=1.0, what="the incident resolved", context=run.logs
        )

    run.process.send_signal(signal.SIGINT)
    code = await asyncio.to_thread(run.process.wait, 60)
    assert code == 0, run.logs()
    left = sorted(pid for pid in children if alive(pid))
    assert left == [], f"processes left running: {left}\n{run.logs()}"
    assert "launcher     | stopped" in run.output.read_text()
