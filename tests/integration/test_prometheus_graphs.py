"""Metric graphs against a real Prometheus (Debian's) scraping the real LNN service every
second: the range-query adapter reads its series and its refusals; the bot, given an
Alertmanager notification whose generatorURL carries the loaded rule's expression (on a host
it never asks), draws the PNG with the threshold and uploads it through the fake Slack's
two-step upload into the incident's channel. With Prometheus down (a closed port) the
incident still opens, and the timeline says why there is no graph."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from bot.domain.promql import query_of, split
from bot.errors import MetricsQueryFailed
from bot.integrations.graphs.render import THRESHOLD_COLOR
from bot.integrations.prometheus_query import PrometheusQuery
from bot.policy.model import Policy
from db.migrate import upgrade_async
from tests.fakes.slack.files import StoredFile
from tests.fakes.slack.models import Channel
from tests.support.bot_app import MakeClient
from tests.support.graphs import graph_link
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.processes import LOOPBACK, free_port, poll_until
from tests.support.prometheus_process import ScrapedLnn, scraped_lnn
from tests.support.slack_bot import eventually, slack_bot

pytestmark = [pytest.mark.binary, pytest.mark.timeout(300)]

# Points the minute of data must hold before the bot is asked for its graph (one a second).
MIN_POINTS = 30
# A host the alert links to that does not exist: only FIREBREAK_PROMETHEUS_URL is asked.
ELSEWHERE = "http://prometheus.invalid:9090"


@pytest.fixture
async def scraped(tmp_path: Path) -> AsyncIterator[ScrapedLnn]:
    async with scraped_lnn(tmp_path / "scraped") as running:
        yield running


async def _minute_of_data(prometheus: PrometheusQuery, expr: str) -> list[Any]:
    async def enough() -> list[Any] | None:
        end = datetime.now(UTC)
        found = await prometheus.range(
            expr, start=end - timedelta(seconds=60), end=end, step_seconds=1
        )
        return found if found and len(found[0].points) >= MIN_POINTS else None

    return await poll_until(enough, timeout=120, what=f"{MIN_POINTS} points of {expr}")


def _firing(expr: str) -> dict[str, Any]:
    latency = alert(
        "LNNHighLatency",
        "critical",
        service="lnn-service",
        namespace="firebreak",
        deployment="lnn-service",
    )
    latency["generatorURL"] = graph_link(expr, host=ELSEWHERE)
    return webhook("g-latency", [latency])


def _threshold_rows(png: bytes) -> int:
    """How many rows of the image carry a long run of the threshold's red."""
    pixels = np.rint(np.asarray(imread(io.BytesIO(png), format="png"))[:, :, :3] * 255)
    red = np.array([int(THRESHOLD_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    per_row = (np.abs(pixels - red).sum(axis=2) < 40).sum(axis=1)
    return int((per_row > 250).sum())


async def test_the_graph_of_the_firing_alert_is_drawn_from_prometheus_and_uploaded(
    scraped: ScrapedLnn, aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    rule = await scraped.rule("LNNHighLatency", "critical")
    query = query_of(graph_link(rule, host=ELSEWHERE))
    assert (query.op, query.threshold) == (">", 0.1)

    # The adapter reads what Prometheus scraped: the p99 of the LNN service, per deployment.
    prometheus = PrometheusQuery(scraped.prometheus.base_url)
    try:
        (series,) = await _minute_of_data(prometheus, query.expr)
        assert series.labels == {"namespace": "firebreak", "deployment": "lnn-service"}
        values = [v for _, v in series.points]
        assert all(0 < v < 1 for v in values), values  # seconds, well under a second
        # Its refusals carry Prometheus's words.
        end = datetime.now(UTC)
        with pytest.raises(MetricsQueryFailed, match="parse error"):
            await prometheus.range(
                "sum(", start=end - timedelta(minutes=1), end=end, step_seconds=1
            )
    finally:
        await prometheus.close()

    await upgrade_async(sqlite_url)
    async with slack_bot(
        aiohttp_client, sqlite_url, policy, prometheus_url=scraped.prometheus.base_url
    ) as bot:
        await bot.alertmanager(_firing(rule))
        channel: Channel = await eventually(lambda: bot.incident_channels()[0])
        shared: list[StoredFile] = await eventually(
            lambda: bot.fake.files.shared_in(channel.id), timeout=60
        )
        (posted,) = shared
        detail = await bot.incident(1)

    assert detail["severity"] == "P1"
    (entry,) = [e for e in detail["timeline"] if e["kind"].startswith("graph.")]
    assert entry["kind"] == "graph.attached", entry
    assert entry["body"]["expr"] == query.expr
    assert (entry["body"]["op"], entry["body"]["threshold"]) == (">", 0.1)
    assert entry["body"]["series"] == 1
    # The PNG as uploaded: Slack's two steps, with the bytes in between, once.
    assert posted.filename == "incident-1-graph.png"
    assert posted.data is not None
    assert posted.data.startswith(b"\x89PNG")
    assert entry["body"]["size"] == len(posted.data)
    assert imread(io.BytesIO(posted.data), format="png").shape[:2] == (450, 800)
    assert _threshold_rows(posted.data) >= 1
    methods = [r.method for r in bot.fake.requests if r.method.startswith(("files.", "upload"))]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    (message,) = [m for m in channel.messages if m.files]
    assert "LNNHighLatency" in message.text
    assert message.thread_ts is None


async def test_with_prometheus_down_the_incident_opens_and_the_timeline_says_why(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    closed = f"http://{LOOPBACK}:{free_port()}"
    await upgrade_async(sqlite_url)
    rule = "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.1"
    async with slack_bot(aiohttp_client, sqlite_url, policy, prometheus_url=closed) as bot:
        await bot.alertmanager(_firing(rule))
        channel: Channel = await eventually(lambda: bot.incident_channels()[0])
        card = await eventually(lambda: bot.channel_card(channel))

        async def said_why() -> dict[str, Any] | None:
            detail = await bot.incident(1)
            graphs = [e for e in detail["timeline"] if e["kind"].startswith("graph.")]
            return graphs[0] if graphs else None

        entry = await poll_until(said_why, timeout=30, what="the graph's entry")
        assert bot.fake.files.shared_in(channel.id) == []

    assert "LNNHighLatency" in card.text
    assert entry["kind"] == "graph.unavailable"
    assert entry["body"]["reason"] == "query_failed"
    assert entry["body"]["detail"].startswith("Prometheus could not be asked: Cannot connect to")
    assert split(rule).expr not in entry["body"]["detail"]
