"""Everything that names an incident links to its web page under FIREBREAK_PUBLIC_URL: the
card, the mention beside it, ``/incident list`` and ``show``, through the whole app and the
fake Slack; and the card's link, followed, is the incident's page. (The PagerDuty event's
``links`` and the email's line are checked where they are built: ``test_notify_publisher``,
``test_notify_texts`` and ``test_escalation_app``.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from bot.policy.model import Policy
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot
from tests.support.web_ui import sign_in

PUBLIC = "http://127.0.0.1:8080/firebreak"
LINK = re.compile(r"<(http://127\.0\.0\.1:8080/firebreak/ui/incidents/\d+)\|([^>]*)>")


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    async with slack_bot(aiohttp_client, sqlite_url, policy, public_url=PUBLIC) as running:
        yield running


async def test_the_card_and_the_mention_link_to_the_page_which_opens(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-latency", [alert("LNNHighLatency", service="lnn-service")]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    card = await eventually(lambda: bot.channel_card(channel))
    links = LINK.findall(json.dumps(card.blocks))
    assert (f"{PUBLIC}/ui/incidents/1", "Incident #1") in links
    assert (f"{PUBLIC}/ui/incidents/1", "open the incident page") in links
    # The first level of a P1's path mentions the primary in the channel, with the link.
    mention = await eventually(
        lambda: [m for m in channel.messages if "/incident ack 1" in json.dumps(m.blocks)]
    )
    assert (f"{PUBLIC}/ui/incidents/1", "Open the incident page") in LINK.findall(
        json.dumps(mention[0].blocks)
    )

    # Followed (the public URL's path is where a proxy would mount the bot): the page.
    path = links[0][0].removeprefix("http://127.0.0.1:8080/firebreak")
    assert (await sign_in(bot.client)).status == 303
    page = await bot.client.get(path)
    assert page.status == 200
    assert 'data-incident-id="1"' in await page.text()


async def test_list_and_show_link_each_incident(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-latency", [alert("LNNHighLatency", service="lnn-service")]))
    listing = await bot.reply("list")
    assert f"*<{PUBLIC}/ui/incidents/1|#1>*" in listing
    shown = await bot.reply("show 1")
    assert shown.startswith(f"*<{PUBLIC}/ui/incidents/1|#1>* P1")
