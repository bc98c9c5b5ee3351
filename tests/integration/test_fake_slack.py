"""The real slack_sdk and slack_bolt clients against the fake Slack Web API (tests/fakes)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.requests import signed_form_request
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import (
    ALICE,
    BOB,
    CAROL,
    ONCALL,
    TOKEN,
    Scene,
    build_scene,
    error_code,
    slack_error,
    snapshot,
)

DIVIDER = {"type": "divider"}
_error, _code = slack_error, error_code


@pytest.fixture
def client(slack_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack_url)


async def test_auth_test_and_token_errors(
    fake: FakeSlack, client: AsyncWebClient, slack_url: str
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", slack_url)
    ws, answer = fake.workspace, await client.auth_test()
    assert (answer["user_id"], answer["team_id"], answer["bot_id"]) == (
        ws.bot_user.id,
        ws.team_id,
        ws.bot_id,
    )
    assert (
        await _code(AsyncWebClient(token="xoxb-wrong", base_url=slack_url).auth_test())
        == "invalid_auth"
    )
    assert await _code(AsyncWebClient(base_url=slack_url).auth_test()) == "not_authed"


async def test_create_channel_and_name_rules(fake: FakeSlack, client: AsyncWebClient) -> None:
    name = "inc-20261122-0042-lnn-high-latency"
    created = await client.conversations_create(name=name)
    channel = created["channel"]
    assert (channel["id"][0], channel["name"], channel["is_private"]) == ("C", name, False)
    assert fake.channel(channel["id"]).members == [fake.workspace.bot_user.id]
    assert await _code(client.conversations_create(name=name)) == "name_taken"
    private = await client.conversations_create(name="inc-private", is_private=True)
    assert private["channel"]["is_private"] is True
    assert (await client.conversations_create(name="x" * 80))["ok"]
    assert len(fake.workspace.channels) == 3


async def test_topic_info_and_join(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-topic"))["channel"]["id"]
    answer = await client.conversations_setTopic(channel=channel_id, topic="P1 lnn latency")
    assert answer["channel"]["topic"]["value"] == "P1 lnn latency"
    info = await client.conversations_info(channel=channel_id)
    assert info["channel"]["topic"]["value"] == fake.channel(channel_id).topic == "P1 lnn latency"
    outside = fake.workspace.add_channel("general", members=[ALICE], bot_member=False)
    assert (await client.conversations_join(channel=outside.id))["channel"]["is_member"] is True
    rejoined = await client.conversations_join(channel=outside.id)
    assert rejoined["warning"] == "already_in_channel"


async def test_invite_users_and_group(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-invite"))["channel"]["id"]
    group = await client.usergroups_users_list(usergroup=ONCALL)
    assert group["users"] == [ALICE, BOB]
    await client.conversations_invite(channel=channel_id, users=group["users"])
    assert fake.channel(channel_id).members == [fake.workspace.bot_user.id, ALICE, BOB]
    partly = client.conversations_invite(channel=channel_id, users=[CAROL, "U0NOBODY"])
    assert await _code(partly) == "user_not_found"
    assert CAROL not in fake.channel(channel_id).members, "a failed invite changes nothing"


async def test_post_thread_and_update(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-post"))["channel"]["id"]
    card = await client.chat_postMessage(channel=channel_id, text="card", blocks=[DIVIDER])
    replies = [
        await client.chat_postMessage(channel=channel_id, text=f"note {i}", thread_ts=card["ts"])
        for i in range(3)
    ]
    stamps = [card["ts"], *(r["ts"] for r in replies)]
    assert stamps == sorted(set(stamps), key=float), "ts unique and increasing"
    assert (card["channel"], card["message"]["blocks"]) == (channel_id, [DIVIDER])
    thread = fake.channel(channel_id).replies(card["ts"])
    assert [m.text for m in thread] == ["note 0", "note 1", "note 2"]
    updated = await client.chat_update(channel=channel_id, ts=card["ts"], text="card v2")
    assert updated["ts"] == card["ts"]
    message = fake.messages(channel_id)[0]
    assert (message.text, message.blocks) == ("card v2", None)
    assert [(e.text, e.blocks) for e in message.edits] == [("card", [DIVIDER])]
    by_name = await client.chat_postMessage(channel="#inc-post", text="by name")
    assert by_name["channel"] == channel_id


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_block_kit_limits_accepted_at_the_edge(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.workspace.add_channel("blocks")
    for blocks in ([_section("a")] * 50, [_section("a" * 3000)]):
        assert (await client.chat_postMessage(channel=channel.id, text="f", blocks=blocks))["ok"]
    assert len(fake.messages(channel.id)) == 2


@pytest.fixture
def scene(fake: FakeSlack) -> Scene:
    return build_scene(fake)


Call = Callable[[AsyncWebClient, Scene], Awaitable[object]]
BOT = "U0FAKEBOT1"
B51, BIG, BAD = [_section("a")] * 51, [_section("a" * 3001)], [{"no": "type"}]
HDR = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
ERRORS: list[tuple[str, Call]] = [
    ("name_taken", lambda c, s: c.conversations_create(name="inc-errors")),
    ("invalid_name_specials", lambda c, s: c.conversations_create(name="Inc-Upper")),
    ("invalid_name_specials", lambda c, s: c.conversations_create(name="inc.dot")),
    ("invalid_name_specials", lambda c, s: c.conversations_create(name="inc space")),
    ("invalid_name_maxlength", lambda c, s: c.conversations_create(name="x" * 81)),
    ("invalid_name_punctuation", lambda c, s: c.conversations_create(name="---")),
    ("too_long", lambda c, s: c.conversations_setTopic(channel=s.incident, topic="t" * 251)),
    ("not_in_channel", lambda c, s: c.conversations_setTopic(channel=s.outside, topic="x")),
    ("channel_not_found", lambda c, s: c.conversations_info(channel="C0MISSING")),
    ("already_in_channel", lambda c, s: c.conversations_invite(channel=s.incident, users=[ALICE])),
    ("user_not_found", lambda c, s: c.conversations_invite(channel=s.incident, users=["U0NOBODY"])),
    ("cant_invite_self", lambda c, s: c.conversations_invite(channel=s.incident, users=[BOT])),
    ("channel_not_found", lambda c, s: c.conversations_invite(channel="C0MISSING", users=[BOB])),
    ("not_in_channel", lambda c, s: c.conversations_invite(channel=s.outside, users=[BOB])),
    ("no_such_subteam", lambda c, s: c.usergroups_users_list(usergroup="S0NOSUCH01")),
    ("user_not_found", lambda c, s: c.users_info(user="U0NOBODY01")),
    ("channel_not_found", lambda c, s: c.chat_postMessage(channel="C0MISSING", text="x")),
    ("not_in_channel", lambda c, s: c.chat_postMessage(channel=s.outside, text="x")),
    ("msg_too_long", lambda c, s: c.chat_postMessage(channel=s.incident, text="x" * 40_001)),
    ("invalid_blocks", lambda c, s: c.chat_postMessage(channel=s.incident, blocks=B51, text="f")),
    ("invalid_blocks", lambda c, s: c.chat_postMessage(channel=s.incident, blocks=BIG, text="f")),
    ("invalid_blocks", lambda c, s: c.chat_postMessage(channel=s.incident, blocks=BAD, text="f")),
    ("invalid_blocks", lambda c, s: c.chat_postMessage(channel=s.incident, blocks=HDR, text="f")),
    ("invalid_blocks", lambda c, s: c.chat_update(channel=s.incident, ts=s.card_ts, blocks=BIG)),
    ("message_not_found", lambda c, s: c.chat_update(channel=s.incident, ts="1.000001", text="x")),
    ("cant_update_message", lambda c, s: c.chat_update(channel=s.incident, ts=s.foreign_ts)),
    ("user_not_in_channel", lambda c, s: c.chat_postEphemeral(channel=s.incident, user=BOB)),
]


@pytest.mark.parametrize(("error", "call"), ERRORS)
async def test_documented_errors_change_nothing(
    fake: FakeSlack, client: AsyncWebClient, scene: Scene, error: str, call: Call
) -> None:
    before = snapshot(fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # slack_sdk: calls without `text`
        assert await _code(call(client, scene)) == error
    assert snapshot(fake) == before
    assert fake.requests[-1].error == error


async def test_no_text_and_ephemeral_and_users_info(
    fake: FakeSlack, client: AsyncWebClient, scene: Scene
) -> None:
    with pytest.warns(UserWarning, match="text"):
        assert await _code(client.chat_postMessage(channel=scene.incident, text="")) == "no_text"
    answer = await client.chat_postEphemeral(channel=scene.incident, user=ALICE, text="usage")
    assert answer["message_ts"]
    assert [(e.user, e.text) for e in fake.workspace.ephemerals] == [(ALICE, "usage")]
    assert len(fake.messages(scene.incident)) == 2, "ephemeral messages are not channel messages"
    assert (await client.users_info(user=ALICE))["user"]["name"] == "alice"
    assert fake.calls("users.info")[0].http_method == "GET"


async def test_request_encodings_are_recorded(
    fake: FakeSlack, client: AsyncWebClient, slack_url: str
) -> None:
    channel_id = (await client.conversations_create(name="inc-enc"))["channel"]["id"]
    await client.chat_postMessage(channel=channel_id, text="json")
    create, post = fake.calls("conversations.create")[0], fake.calls("chat.postMessage")[0]
    assert create.args == {"name": "inc-enc"}
    assert post.content_type == "application/json"
    assert "token" not in post.args

    form = {"token": TOKEN, "channel": channel_id, "text": "form", "blocks": '[{"type":"divider"}]'}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{slack_url}chat.postMessage", data=form) as response:
            body = await response.json()
        async with session.post(f"{slack_url}no.such", data=urlencode(form)) as missing:
            assert missing.status == 404
    assert body["ok"] is True
    assert fake.messages(channel_id)[-1].blocks == [{"type": "divider"}]
    assert fake.calls("chat.postMessage")[-1].content_type == "application/x-www-form-urlencoded"


async def test_rate_limit_surfaces_429_with_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.workspace.add_channel("inc-429")
    fake.faults.rate_limit("chat.postMessage", calls=1, retry_after=1)
    limited = await _error(client.chat_postMessage(channel=channel.id, text="one"))
    response = limited.response
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")
    assert response["error"] == "ratelimited"
    assert (await client.auth_test())["ok"], "other methods are not limited"
    early = await _error(client.chat_postMessage(channel=channel.id, text="one"))
    assert early.response.status_code == 429
    assert [r.early for r in fake.calls("chat.postMessage")] == [False, True]
    assert fake.log.retry_after_violations() == fake.calls("chat.postMessage")[1:]
    assert fake.messages(channel.id) == []


async def test_sdk_rate_limit_retry_waits_for_retry_after(fake: FakeSlack, slack_url: str) -> None:
    channel = fake.workspace.add_channel("inc-retry")
    handlers: list[AsyncRetryHandler] = [AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    client = AsyncWebClient(token=TOKEN, base_url=slack_url, retry_handlers=handlers)
    fake.faults.rate_limit("chat.postMessage", calls=1, retry_after=1)
    answer = await client.chat_postMessage(channel=channel.id, text="after the limit")
    first, retry = fake.calls("chat.postMessage")
    assert (first.status, retry.status) == (429, 200)
    assert retry.received_at - first.received_at >= 1.0
    assert fake.log.retry_after_violations() == []
    assert [m.ts for m in fake.messages(channel.id)] == [answer["ts"]]


async def test_unavailable_for_calls_then_recovers(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel = fake.workspace.add_channel("inc-503")
    fake.faults.unavailable(calls=2)
    for _ in range(2):
        await _error(client.chat_postMessage(channel=channel.id, text="card"))
    await client.chat_postMessage(channel=channel.id, text="card")
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert [m.text for m in fake.messages(channel.id)] == ["card"]


async def test_unavailable_window_follows_injected_clock() -> None:
    now = [100.0]
    fake = FakeSlack(token=TOKEN, clock=lambda: now[0])
    async with run_fake_slack(fake) as url:
        client = AsyncWebClient(token=TOKEN, base_url=url)
        fake.faults.unavailable_for(30)
        for step in (0.0, 29.9):
            now[0] += step
            assert (await _error(client.auth_test())).response.status_code == 503
        now[0] += 0.1
        assert (await client.auth_test())["ok"]
    assert [r.received_at for r in fake.requests] == pytest.approx([100.0, 129.9, 130.0])


async def test_bolt_app_uses_fake(fake: FakeSlack, slack_url: str) -> None:
    secret = "signing-secret"
    client = AsyncWebClient(token=TOKEN, base_url=slack_url)
    app = AsyncApp(signing_secret=secret, client=client, process_before_response=True)
    assert (await app.client.auth_test())["user_id"] == fake.workspace.bot_user.id
    channel = fake.workspace.add_channel("inc-bolt", members=[ALICE])

    @app.command("/incident")
    async def incident(ack: AsyncAck, client: AsyncWebClient, command: dict[str, str]) -> None:
        await ack()
        await client.chat_postEphemeral(
            channel=command["channel_id"], user=command["user_id"], text="help"
        )

    fields = {"command": "/incident", "text": "help", "channel_id": channel.id, "user_id": ALICE}
    response = await app.async_dispatch(signed_form_request(secret, fields))
    assert response.status == 200
    (ephemeral,) = fake.workspace.ephemerals
    assert (ephemeral.channel, ephemeral.user, ephemeral.text) == (channel.id, ALICE, "help")
