"""A real ``firebreak serve`` is killed (SIGKILL) in the middle of an approved action, after it
applied the change and while it follows the rollout; the restarted process reconciles the
action against the cluster and finishes it, with exactly one effective change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.slack.server import run_fake_slack
from tests.fakes.slack.testing import ALICE, BOB, TOKEN, seeded_fake
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.processes import ALERTMANAGER_TOKEN, FirebreakApi, firebreak_env, poll_until
from tests.support.slack_bot import block_actions_body, sign

pytestmark = pytest.mark.slow

SECRET = "e2e-signing-secret"
NS, NAME = "firebreak", "lnn-service"


async def test_sigkill_while_an_approved_scale_runs_ends_it_once(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    kube = FakeKube()  # the controller moves only when the test steps it
    kube.add_deployment(NS, NAME, replicas=3)
    fake = seeded_fake()
    async with run_fake_kube(kube) as kube_url, run_fake_slack(fake) as slack_url:
        env = firebreak_env(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", kube_url, namespace=NS)),
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack_url,
            FIREBREAK_APPROVERS=BOB,
            FIREBREAK_ACTION_LEASE_SECONDS="2",
            FIREBREAK_ROLLOUT_POLL_SECONDS="0.1",
            FIREBREAK_OUTBOX_POLL_SECONDS="0.2",
        )
        hooks = slack_url.removesuffix("/api/") + "/hooks"
        bot = await processes.firebreak("bot-1", env=env)
        async with http.post(
            bot.base_url + "/webhooks/alertmanager",
            data=json.dumps(
                webhook("g", [alert("LNNHighLatency", "critical", service="lnn-service")])
            ),
            headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
        ) as response:
            assert response.status == 202, await response.text()
        api = FirebreakApi(http, bot)

        async def opened() -> bool | None:
            # Acknowledged means stored: the incident appears once the inbox is processed.
            return True if await api.incidents() else None

        await poll_until(opened, timeout=20, what="the incident", context=bot.describe)

        async def click(base_url: str, action_id: str, value: dict[str, Any], user: str) -> None:
            body = block_actions_body(
                action_id, value, user=user, channel="C0ANY", response_url=f"{hooks}/{user}"
            )
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                **sign(body, secret=SECRET),
            }
            async with http.post(base_url + "/slack/events", data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()

        # "Scale to 6" is the high-latency scenario's first suggested action.
        await click(bot.base_url, "firebreak.request_action", {"incident": 1, "action": 0}, ALICE)

        async def requested() -> bool | None:
            return True if any("Requested" in r.get("text", "") for r in fake.responses) else None

        await poll_until(requested, timeout=20, what="the request", context=bot.describe)
        await click(bot.base_url, "firebreak.approve", {"action_request": 1}, BOB)

        async def applied() -> bool | None:
            return True if kube.writes(include_dry_run=False) else None

        await poll_until(applied, timeout=20, what="the apply", context=bot.describe)
        bot.process.kill()  # SIGKILL while it follows the rollout
        bot.process.wait(timeout=10)
        assert kube.deployment(NS, NAME)["spec"]["replicas"] == 6
        kube.settle()  # the cluster finishes the rollout while no firebreak is running

        restarted = await processes.firebreak("bot-2", env=env)
        api = FirebreakApi(http, restarted)

        async def finished() -> list[str] | None:
            kinds = [e["kind"] for e in (await api.incident(1))["timeline"]]
            return kinds if "action.succeeded" in kinds or "action.failed" in kinds else None

        kinds = await poll_until(
            finished, timeout=30, what="the action to end", context=restarted.describe
        )
        assert "action.succeeded" in kinds, kinds
        assert "action.reconciling" in kinds or "action.reconciled" in kinds, kinds
        real_writes = kube.writes(include_dry_run=False)
        assert len(real_writes) == 1, [(w.method, w.path) for w in real_writes]
        assert kube.deployment(NS, NAME)["spec"]["replicas"] == 6
