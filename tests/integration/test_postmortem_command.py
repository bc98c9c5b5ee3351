"""``/incident postmortem`` end to end in one process, on SQLite and PostgreSQL: the real app,
signed Slack requests, the outbox worker and the real slack_sdk against the fake Slack. The
reply says the postmortem is being posted; a ``postmortem.requested`` entry names who asked;
the file arrives in the incident's channel whole, longer than any Slack message, and says
what ``GET /api/incidents/{id}/postmortem`` says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.policy.model import Policy
from bot.services.markdown import one_line
from db.migrate import upgrade_async
from tests.fakes.slack.files import StoredFile
from tests.fakes.slack.models import Channel
from tests.fakes.slack.testing import ALICE, BOB
from tests.support.bot_app import API_AUTH, MakeClient
from tests.support.markdown import parse
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot

LATENCY = alert("LNNHighLatency", "critical", service="lnn-service")
# Six notes of 7,000 characters: the document is far longer than one Slack message (40,000).
NOTES = [f"finding {i}: " + "p99 <b>|</b> *slow* " * 350 for i in range(6)]


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, database_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    await upgrade_async(database_url)
    async with slack_bot(aiohttp_client, database_url, policy) as running:
        yield running


async def test_the_postmortem_is_posted_into_the_channel_whole(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel: Channel = await eventually(lambda: bot.incident_channels()[0])
    await eventually(lambda: bot.channel_card(channel))
    for note in NOTES:
        assert (await bot.reply(f"note {note}", user=BOB, channel=channel.id)).startswith("Noted")

    reply = await bot.reply("postmortem", channel=channel.id)
    assert reply == (
        "Posting the postmortem of #1 into the incident's channel as `incident-1-postmortem.md`."
        " It is also at `GET http://127.0.0.1:8080/api/incidents/1/postmortem` (with the API"
        " token)."
    )
    shared: list[StoredFile] = await eventually(lambda: bot.fake.files.shared_in(channel.id))
    (posted,) = shared
    assert posted.filename == "incident-1-postmortem.md"
    assert posted.title == "Postmortem of incident #1"
    document = posted.text
    assert len(document) > 40_000
    parsed = parse(document)
    rows = next(t for t in parsed.tables if t[0][:2] == ["Time (UTC)", "Actor"])[1:]
    notes = [row[3] for row in rows if row[2] == "note"]
    assert notes == [f"Note: {one_line(note)}" for note in NOTES]
    assert rows[-1][1:3] == [f"slack:{ALICE}", "postmortem.requested"]
    (message,) = [m for m in channel.messages if m.files]
    assert message.text.startswith(f"Postmortem of incident #1, requested by <@{ALICE}>")

    # The timeline names who asked; the thread does not repeat it (the file says it).
    detail = await bot.incident(1)
    asked = [e for e in detail["timeline"] if e["kind"] == "postmortem.requested"]
    assert [(e["actor"], e["body"]) for e in asked] == [
        (f"slack:{ALICE}", {"filename": "incident-1-postmortem.md"})
    ]
    assert not any("Postmortem requested" in (m.text or "") for m in channel.messages)

    # The API serves the same record.
    resp = await bot.client.get("/api/incidents/1/postmortem", headers=API_AUTH)
    assert resp.status == 200
    served = parse(await resp.text())
    assert next(t for t in served.tables if t[0][:2] == ["Time (UTC)", "Actor"])[1:] == rows
    assert [h for _, h in served.headings] == [h for _, h in parsed.headings]


async def test_an_unknown_incident_is_refused_with_nothing_posted(bot: SlackBot) -> None:
    reply = await bot.reply("postmortem 42")
    assert "42" in reply
    assert bot.fake.calls("files.getUploadURLExternal") == []
