"""The whole loop, as issue 15 promises it, on loopback with every real part that runs here.

The LNN service under load, a real Prometheus scraping it with the shipped rules (windows and
``for`` durations shortened by ``launcher.rules``, not by a second copy), a real Alertmanager
with the shipped example config pointed at a real ``firebreak serve``, the fake Slack and the
fake Kubernetes API holding the LNN deployment and its HPA in the namespace the scrape labels
name. The latency drill goes on; the test then sees, in order: the P1 "High Latency" incident
with its triage commands filled for that namespace in a new channel; the card's scale
requested, refused for its requester, approved by an approver, dry-run and applied to the HPA
in the alert's namespace, and followed to completion; the drill lifted; the alert resolved by
Alertmanager; the incident resolved; a postmortem holding every step, posted as a file.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from launcher import alertmanager as am_config
from launcher import envfile
from launcher import prometheus as prom_config
from launcher.load import Load, generate
from tests.e2e.conftest import Processes
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.slack.files import StoredFile
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import ALICE, BOB, TOKEN, seeded_fake
from tests.support.binaries import need
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    LOOPBACK,
    FirebreakApi,
    Service,
    firebreak_env,
    firebreak_executable,
    free_port,
    poll_until,
    spawn,
    wait_http_ok,
)
from tests.support.slack_bot import block_actions_body, buttons, sign, slash_command_body

pytestmark = [pytest.mark.slow, pytest.mark.binary, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "loop-signing-secret"
NS, NAME = "firebreak", "lnn-service"  # what the launcher's scrape labels name
HPA_PATH = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/{NAME}"
# The shortened windows: p99 over 20 s, pending for 10 s (or the window), so a drill pages
# within a minute.
WINDOW, FOR = "20s", "10s"
STEP_TIMEOUT = 150.0
LNN_ADMIN_TOKEN = "loop-lnn-admin-token"


@dataclass
class Loop:
    """Everything the test started, and what it reads them through."""

    processes: Processes
    http: aiohttp.ClientSession
    slack: FakeSlack
    kube: FakeKube
    bot: Service
    lnn: Service
    api: FirebreakApi
    hooks: str

    def logs(self) -> str:
        return self.processes.logs()

    async def until(self, check: Any, what: str, timeout: float = STEP_TIMEOUT) -> Any:
        return await poll_until(check, timeout=timeout, what=what, interval=0.5, context=self.logs)

    async def drill(self, *args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [firebreak_executable(), "drill", *args, "--lnn-url", self.lnn.base_url],
            env=firebreak_env("sqlite+aiosqlite:///unused.db", LNN_ADMIN_TOKEN=LNN_ADMIN_TOKEN),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    async def post_slack(self, body: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret=SECRET)}
        async with self.http.post(
            self.bot.base_url + "/slack/events", data=body, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            text = await response.text()
            return json.loads(text) if text else {}

    async def click(
        self, action_id: str, value: dict[str, Any], *, user: str, channel: str
    ) -> None:
        body = block_actions_body(
            action_id, value, user=user, channel=channel, response_url=f"{self.hooks}/{user}"
        )
        await self.post_slack(body)

    async def command(self, text: str, *, user: str, channel: str) -> str:
        body = slash_command_body(
            text, user=user, channel=channel, response_url=f"{self.hooks}/cmd-{user}"
        )
        return str((await self.post_slack(body))["text"])

    async def timeline(self, incident: int) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.api.incident(incident))["timeline"]
        return entries


def start(processes: Processes, name: str, argv: list[str], base_url: str) -> Service:
    """A child process the ``processes`` fixture stops, logging beside the others."""
    workdir = processes.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    env = firebreak_env("sqlite+aiosqlite:///unused.db", LNN_ADMIN_TOKEN=LNN_ADMIN_TOKEN)
    process = spawn(argv, env=env, log_path=workdir / f"{name}.log", cwd=workdir)
    service = Service(name, base_url, process, workdir / f"{name}.log")
    processes.started.append(service)
    return service


@asynccontextmanager
async def loop_running(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path
) -> AsyncIterator[Loop]:
    prometheus_bin = need("prometheus")
    alertmanager_bin = need("prometheus-alertmanager")
    kube = FakeKube(progress_interval=0.05)
    kube.add_deployment(NS, NAME, replicas=3)
    kube.add_hpa(NS, NAME, min_replicas=3, max_replicas=10)
    slack = seeded_fake()
    async with run_fake_kube(kube) as kube_url, run_fake_slack(slack) as slack_url:
        lnn_port = free_port()
        lnn = start(
            processes,
            "lnn-service",
            [firebreak_executable(), "lnn", "serve", "--host", LOOPBACK, "--port", str(lnn_port)],
            f"http://{LOOPBACK}:{lnn_port}",
        )
        await wait_http_ok(lnn, "/ready", timeout=60)
        # Traffic from before Prometheus' first scrape, as the launcher does: the throughput
        # rule must judge a service at its normal rate, never one warming up.
        stop = asyncio.Event()
        load = asyncio.create_task(generate(lnn.base_url, Load(), stop))
        try:
            am_port, prom_port = free_port(), free_port()
            am_address, prom_address = f"{LOOPBACK}:{am_port}", f"{LOOPBACK}:{prom_port}"
            bot = await processes.firebreak(
                "firebreak",
                env=firebreak_env(
                    f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                    KUBECONFIG=str(
                        write_kubeconfig(tmp_path / "kubeconfig", kube_url, namespace=NS)
                    ),
                    SLACK_BOT_TOKEN=TOKEN,
                    SLACK_SIGNING_SECRET=SECRET,
                    SLACK_API_URL=slack_url,
                    FIREBREAK_APPROVERS=BOB,
                    FIREBREAK_ROLLOUT_POLL_SECONDS="0.2",
                    FIREBREAK_OUTBOX_POLL_SECONDS="0.2",
                    # The graph of the firing alert comes from the Prometheus started below.
                    FIREBREAK_PROMETHEUS_URL=f"http://{prom_address}",
                ),
            )
            token_file = tmp_path / "alertmanager-token"
            envfile.write_private(token_file, ALERTMANAGER_TOKEN)
            am_home, prom_home = tmp_path / "alertmanager", tmp_path / "prometheus"
            am_file = am_config.write(
                am_home,
                root=ROOT,
                bot_url=bot.base_url,
                token_file=token_file,
                group_wait="1s",
                group_interval="2s",
            )
            alertmanager = start(
                processes,
                "alertmanager",
                am_config.argv(
                    alertmanager_bin, config=am_file, data_dir=am_home / "data", listen=am_address
                ),
                f"http://{am_address}",
            )
            await wait_http_ok(alertmanager, "/-/ready", timeout=60)
            prom_file = prom_config.write(
                prom_home,
                root=ROOT,
                targets=[prom_config.lnn_target(f"{LOOPBACK}:{lnn_port}")],
                alertmanager=am_address,
                window=WINDOW,
                for_=FOR,
                interval="1s",
            )
            prometheus = start(
                processes,
                "prometheus",
                prom_config.argv(
                    prometheus_bin,
                    config=prom_file,
                    data_dir=prom_home / "data",
                    listen=prom_address,
                ),
                f"http://{prom_address}",
            )
            await wait_http_ok(prometheus, "/-/ready", timeout=60)
            yield Loop(
                processes=processes,
                http=http,
                slack=slack,
                kube=kube,
                bot=bot,
                lnn=lnn,
                api=FirebreakApi(http, bot),
                hooks=slack_url.removesuffix("/api/") + "/hooks",
            )
        finally:
            stop.set()
            await asyncio.wait_for(load, timeout=30)


def incident_channel(slack: FakeSlack) -> Channel | None:
    channels = [c for c in slack.workspace.channels.values() if c.name.startswith("inc-")]
    return channels[0] if channels else None


def card_of(channel: Channel) -> Message | None:
    cards = [m for m in channel.messages if m.thread_ts is None and m.blocks]
    return cards[0] if cards else None


def thread_text(channel: Channel, card: Message) -> str:
    return "\n".join(
        m.text + json.dumps(m.blocks or []) for m in channel.messages if m.thread_ts == card.ts
    )


async def test_a_latency_drill_is_noticed_remediated_through_the_hpa_and_resolved(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with loop_running(processes, http, tmp_path) as loop:
        assert "latency" in (await loop.drill("latency")).lower()

        # Prometheus notices, Alertmanager routes, firebreak opens the P1 with its runbook.
        async def opened() -> dict[str, Any] | None:
            incidents = await loop.api.incidents()
            return incidents[0] if incidents else None

        incident = await loop.until(opened, "the latency incident")
        assert incident["severity"] == "P1", incident
        assert incident["title"].startswith("LNNHighLatency"), incident

        async def channel_with_card() -> tuple[Channel, Message] | None:
            channel = incident_channel(loop.slack)
            card = card_of(channel) if channel else None
            return (channel, card) if channel and card else None

        found: tuple[Channel, Message] = await loop.until(
            channel_with_card, "the incident channel and card"
        )
        channel, card = found
        shown = json.dumps(card.blocks)
        assert "*Scenario:* High Latency (P99 &gt; 100 ms)" in shown, shown
        # Triage commands filled for the namespace the alert names, with the manifests' selector.
        assert f"kubectl top pods -n {NS} -l app.kubernetes.io/name={NAME}" in shown, shown

        # The graph of the alert Prometheus fired, read from its generatorURL, drawn from the
        # same Prometheus with the rule's threshold and posted into the channel once.
        async def graph_file() -> StoredFile | None:
            shared = loop.slack.files.shared_in(channel.id)
            graphs = [f for f in shared if f.filename == "incident-1-graph.png"]
            return graphs[0] if graphs else None

        graph = await loop.until(graph_file, "the graph in the channel")
        assert graph.data is not None
        assert graph.data.startswith(b"\x89PNG")
        (attached,) = [e for e in await loop.timeline(1) if e["kind"] == "graph.attached"]
        assert attached["body"]["expr"].startswith("histogram_quantile(0.99,"), attached
        assert (attached["body"]["op"], attached["body"]["threshold"]) == (">", 0.1)
        assert attached["body"]["size"] == len(graph.data)

        # The card's scale button, as the requester sees it.
        scale = buttons(card)["Scale to 6"]
        await loop.click(scale["action_id"], scale["value"], user=ALICE, channel=channel.id)

        async def approval() -> Message | None:
            for message in channel.messages:
                if message.thread_ts == card.ts and "Approve" in buttons(message):
                    return message
            return None

        request = await loop.until(approval, "the approval request")
        assert f"raise HPA {NS}/{NAME} minReplicas 3 \\u2192 6" in json.dumps(request.blocks)
        approve = buttons(request)["Approve"]

        # The requester cannot approve their own request: refused, and on the timeline.
        await loop.click(approve["action_id"], approve["value"], user=ALICE, channel=channel.id)

        async def refused() -> bool | None:
            kinds = [e["kind"] for e in await loop.timeline(1)]
            return True if "action.refused" in kinds else None

        await loop.until(refused, "the requester's refused approval on the timeline")
        assert loop.kube.writes() == []

        # An approver approves: dry run, then the HPA's floor, then the rollout to 6.
        await loop.click(approve["action_id"], approve["value"], user=BOB, channel=channel.id)

        async def finished() -> list[str] | None:
            kinds = [e["kind"] for e in await loop.timeline(1)]
            done = "action.succeeded" in kinds or "action.failed" in kinds
            return kinds if done else None

        kinds = await loop.until(finished, "the scale to finish")
        assert "action.succeeded" in kinds, kinds
        writes = [(w.path, w.dry_run) for w in loop.kube.writes() if w.path == HPA_PATH]
        assert writes == [(HPA_PATH, True), (HPA_PATH, False)]
        assert loop.kube.hpa(NS, NAME)["spec"]["minReplicas"] == 6
        assert loop.kube.deployment(NS, NAME)["status"]["readyReplicas"] == 6

        # The drill lifted, Alertmanager sends the resolution, the incident resolves.
        await loop.drill("--off")

        async def resolved() -> dict[str, Any] | None:
            detail = await loop.api.incident(1)
            return detail if detail["status"] == "resolved" else None

        detail = await loop.until(resolved, "the incident to resolve")
        order = [e["kind"] for e in detail["timeline"]]
        expected = [
            "incident.opened",
            "action.requested",
            "action.refused",
            "action.approved",
            "action.started",
            "action.applied",
            "action.succeeded",
            "alert.resolved",
            "incident.resolved",
        ]
        positions = [order.index(kind) for kind in expected]
        assert positions == sorted(positions), order
        applied = next(e for e in detail["timeline"] if e["kind"] == "action.applied")
        assert applied["body"]["previous_min_replicas"] == 3

        # The postmortem, posted into the channel as a file, holds every step, with who did it.
        reply = await loop.command("postmortem 1", user=ALICE, channel=channel.id)
        assert "incident-1-postmortem.md" in reply, reply

        async def postmortem_file() -> str | None:
            shared = loop.slack.files.shared_in(channel.id)
            named = [f for f in shared if f.filename == "incident-1-postmortem.md"]
            return named[0].text if named else None

        postmortem = await loop.until(postmortem_file, "the postmortem file in the channel")
        for needle in ("scale", BOB, "resolved", "LNNHighLatency", "## Root cause"):
            assert needle in postmortem, (needle, postmortem)
        # The resolution offers to put the HPA's floor back.

        async def restore_offer() -> bool | None:
            return True if "Restore minReplicas to 3" in thread_text(channel, card) else None

        await loop.until(restore_offer, "the restore offer in the thread", timeout=30)
