"""The HTTP boundary of a real ``firebreak serve``, driven over hand-written loopback sockets:
bodies that arrive in pieces, headers over aiohttp's limit, forged bodies trying to write
lines into the log, and requests refused without an ERROR."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.support.processes import Service, firebreak_env, scrape_metric
from tests.support.raw_http import send_in_parts, split_at
from tests.support.slack_bot import sign

pytestmark = pytest.mark.slow

SIGNING_SECRET = "e2e-boundary-signing-secret"


async def slack_bot(processes: Processes, tmp_path: Path) -> Service:
    env = firebreak_env(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", SLACK_SIGNING_SECRET=SIGNING_SECRET
    )
    return await processes.firebreak("bot", env=env)


def url_verification(size: int) -> tuple[str, str, dict[str, str]]:
    """Slack's URL check (Bolt answers it with the challenge), padded to ``size`` bytes the
    way a button click's payload carries a whole card."""
    doc = {"token": "legacy", "challenge": f"challenge-{size}", "type": "url_verification"}
    pad = size - len(json.dumps({**doc, "card": ""}))
    return (
        json.dumps({**doc, "card": "x" * pad}),
        "application/json",
        {"challenge": doc["challenge"]},
    )


def help_command(size: int) -> tuple[str, str, dict[str, str]]:
    """``/incident help`` as Slack posts it (a form), padded to ``size`` bytes."""
    form = {"command": "/incident", "text": "help", "user_id": "U0ALICE001", "channel_id": "C0X"}
    pad = size - len(urlencode({**form, "pad": ""}))
    body = urlencode({**form, "pad": "x" * pad})
    return body, "application/x-www-form-urlencoded", {"response_type": "ephemeral"}


@pytest.mark.parametrize("parts", [2, 5])
@pytest.mark.parametrize("kind", [url_verification, help_command], ids=["json", "form"])
async def test_signed_slack_bodies_written_in_pieces_are_accepted(
    processes: Processes,
    tmp_path: Path,
    parts: int,
    kind: Callable[[int], tuple[str, str, dict[str, str]]],
) -> None:
    bot = await slack_bot(processes, tmp_path)
    for size in (703, 3_200, 20_000, 200_000, 500_000):
        body, content_type, expected = kind(size)
        assert len(body) == size
        headers = {"Content-Type": content_type, **sign(body, secret=SIGNING_SECRET)}
        encoded = body.encode()
        cuts = [len(encoded) * k // parts for k in range(1, parts)]
        response = await send_in_parts(
            bot.base_url, "/slack/events", headers, split_at(encoded, cuts), pause=0.05
        )
        assert response.status == 200, (size, response, bot.describe())
        assert expected.items() <= json.loads(response.body).items()


def log_lines_since(service: Service, offset: int) -> list[str]:
    return service.log_path.read_text(errors="replace")[offset:].splitlines()


async def settle(service: Service, http: aiohttp.ClientSession) -> None:
    # A request answered by the process has been logged by it: /healthz after the refusals
    # (one connection at a time) makes sure their lines are in the file.
    async with http.get(service.base_url + "/healthz") as response:
        assert response.status == 200


async def test_refusals_are_one_escaped_line_each_and_never_the_body(
    processes: Processes, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    bot = await slack_bot(processes, tmp_path)
    offset = len(bot.log_path.read_text(errors="replace"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    forged_line = f"{stamp},000 CRITICAL firebreak restart of prod approved by U0ADMIN"
    forged = f"payload=%7B%7D\n{forged_line}\n{forged_line}\r\n".encode()
    refused = [
        # Forged signature, a body that tries to write log lines of its own.
        ({"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1"}, forged),
        # Timestamps slack_sdk's verifier would have failed on with a 500.
        (sign("x", secret=SIGNING_SECRET) | {"X-Slack-Request-Timestamp": "1796614271.663"}, b"x"),
        (sign("x", secret=SIGNING_SECRET) | {"X-Slack-Request-Timestamp": "abc"}, b"x"),
        # A JSON content type, a body that is not JSON, and no signature at all.
        ({"Content-Type": "application/json"}, b"{not json " + forged_line.encode()),
    ]
    for headers, body in refused:
        response = await send_in_parts(bot.base_url, "/slack/events", headers, [body], pause=0)
        assert response.status == 401, (response, bot.describe())
    # A path carrying a line break of its own (percent-encoded, decoded by aiohttp).
    response = await send_in_parts(bot.base_url, "/webhooks/%0A" + "x" * 10, {}, [b"{}"], pause=0)
    assert response.status == 404
    await settle(bot, http)

    lines = log_lines_since(bot, offset)
    assert not any("U0ADMIN" in line for line in lines), "\n".join(lines)
    refusals = [line for line in lines if " refused " in line]
    assert len(refusals) == len(refused) + 1, "\n".join(lines)
    assert all(
        " WARNING firebreak.refused refused POST /slack/events: 401 " in r for r in refusals[:4]
    )
    assert "/webhooks/\\nxxxxxxxxxx" in refusals[4]
    assert not [line for line in lines if re.search(r" (ERROR|CRITICAL) |Traceback", line)]
    failures = await scrape_metric(
        http, bot.base_url, "firebreak_auth_failures_total", source="slack"
    )
    assert failures == len(refused)


async def test_headers_over_the_limit_are_one_line_not_an_error(
    processes: Processes, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    bot = await slack_bot(processes, tmp_path)
    offset = len(bot.log_path.read_text(errors="replace"))
    headers = {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "a" * 9000 + "\x1b[31m",
    }
    response = await send_in_parts(bot.base_url, "/slack/events", headers, [b"x=1"], pause=0)
    assert response.status == 400
    await settle(bot, http)
    lines = log_lines_since(bot, offset)
    assert not [line for line in lines if re.search(r" (ERROR|CRITICAL) |Traceback", line)], (
        "\n".join(lines)
    )
    malformed = [line for line in lines if "refused a malformed request" in line]
    assert len(malformed) == 1, "\n".join(lines)
    assert " INFO aiohttp.server " in malformed[0]
    assert "\x1b" not in "\n".join(lines)
