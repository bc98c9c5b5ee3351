"""What the fake Slack learned for the outbox: paginated conversations.list and an outage
that starts after a given number of successful calls."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.testing import ALICE, TOKEN, error_code, slack_error


@pytest.fixture
def client(slack_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack_url, retry_handlers=[])


async def test_conversations_list_pages_with_a_cursor(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    for i in range(5):
        fake.workspace.add_channel(f"pub-{i}")
    fake.workspace.add_channel("secret", is_private=True)
    fake.workspace.add_channel("hidden", is_private=True, members=[ALICE], bot_member=False)
    names: list[str] = []
    cursor = ""
    for _ in range(10):
        page = await client.conversations_list(
            types="public_channel,private_channel", limit=2, cursor=cursor
        )
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == [f"pub-{i}" for i in range(5)] + ["secret"]
    public = await client.conversations_list()
    assert [c["name"] for c in public["channels"]] == [f"pub-{i}" for i in range(5)]
    assert public["response_metadata"]["next_cursor"] == ""
    assert fake.calls("conversations.list")[0].http_method == "GET"
    assert await error_code(client.conversations_list(cursor="%%%")) == "invalid_cursor"
    assert await error_code(client.conversations_list(limit=0)) == "invalid_limit"


async def test_unavailable_after_a_number_of_successes(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.faults.unavailable_after(2)
    assert await error_code(client.users_info(user="U0NOBODY01")) == "user_not_found"
    for _ in range(2):
        assert (await client.auth_test())["ok"]
    for _ in range(2):
        assert (await slack_error(client.auth_test())).response.status_code == 503
    fake.faults.clear()
    assert (await client.auth_test())["ok"]
    assert [r.status for r in fake.requests] == [200, 200, 200, 503, 503, 200]
