"""The shipped Alertmanager example (deploy/alertmanager/alertmanager.yml), run by the real
Alertmanager: it groups by alertname, namespace and deployment, sends with the bearer token
from its credentials_file, and a critical mutes its own warning on the same deployment only.

Only what a test must change is rewritten in a temporary copy: the webhook url (a recorder on
loopback), the credentials_file and the timers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.binaries import need
from tests.support.processes import (
    AlertSpec,
    poll_until,
    post_alerts,
    start_alertmanager,
    wait_http_ok,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
TOKEN = "example-token"
MakeServer = Callable[[web.Application], Awaitable[TestServer]]


def _local_copy(webhook_url: str, token_file: Path) -> str:
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    config["route"].update(group_wait="1s", group_interval="2s")
    (webhook,) = config["receivers"][0]["webhook_configs"]
    webhook["url"] = webhook_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return yaml.safe_dump(config)


def _alert(severity: str, namespace: str) -> dict[str, Any]:
    labels = {
        "alertname": "LNNHighLatency",
        "severity": severity,
        "service": "lnn-service",
        "namespace": namespace,
        "deployment": "lnn-service",
    }
    return AlertSpec(labels, datetime.now(UTC)).firing()


@pytest.mark.binary
async def test_a_critical_mutes_its_warning_on_the_same_deployment_only(
    aiohttp_server: MakeServer, tmp_path: Path
) -> None:
    need("prometheus-alertmanager")
    received: list[tuple[str, dict[str, Any]]] = []

    async def record(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization", ""), await request.json()))
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/webhooks/alertmanager", record)
    server = await aiohttp_server(receiver)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    url = str(server.make_url("/webhooks/alertmanager"))
    alertmanager = start_alertmanager(
        "alertmanager", config_text=_local_copy(url, token_file), workdir=tmp_path
    )
    try:
        await wait_http_ok(alertmanager, "/-/ready")
        async with aiohttp.ClientSession() as session:
            await post_alerts(
                session,
                alertmanager,
                [
                    _alert("critical", "firebreak"),
                    _alert("warning", "firebreak"),
                    _alert("warning", "staging"),
                ],
            )

        async def both_groups() -> dict[str, dict[str, Any]] | None:
            groups = {body["groupLabels"]["namespace"]: body for _, body in received}
            return groups if set(groups) == {"firebreak", "staging"} else None

        groups = await poll_until(
            both_groups, timeout=30, what="both groups notified", context=alertmanager.describe
        )
    finally:
        alertmanager.stop()

    assert {auth for auth, _ in received} == {f"Bearer {TOKEN}"}
    for namespace, body in groups.items():
        assert body["groupLabels"] == {
            "alertname": "LNNHighLatency",
            "namespace": namespace,
            "deployment": "lnn-service",
        }
    severities = {
        namespace: [alert["labels"]["severity"] for alert in body["alerts"]]
        for namespace, body in groups.items()
    }
    assert severities == {"firebreak": ["critical"], "staging": ["warning"]}
