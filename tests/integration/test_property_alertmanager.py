"""Property: any schema-valid, authenticated Alertmanager v4 payload gets 2xx (202, stored in
the inbox), never a 4xx (Alertmanager would drop it) or a 500; and the inbox processor then
applies it (processed, or ignored when it resolves alerts of no incident), never failing on
it, so the 202 did not promise what processing cannot keep."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.policy.model import Policy
from db.migrate import upgrade_async
from tests.support.bot_app import AM_AUTH, Client, MakeClient, bot_app, inbox_rows, process_inbox

label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
label_maps = st.dictionaries(label_names, st.text(max_size=40), max_size=6)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat()


alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": label_maps,
        "annotations": label_maps,
        "startsAt": moments.map(rfc3339),
        "endsAt": st.one_of(st.just("0001-01-01T00:00:00Z"), moments.map(rfc3339)),
        "generatorURL": st.text(max_size=30),
        "fingerprint": st.text(max_size=40),
    }
)
payloads = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": st.text(max_size=300),
        "truncatedAlerts": st.integers(min_value=0, max_value=10**6),
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": st.text(max_size=20),
        "groupLabels": label_maps,
        "commonLabels": label_maps,
        "commonAnnotations": label_maps,
        "externalURL": st.text(max_size=30),
        "alerts": st.lists(alerts, max_size=4),
    },
    optional={"extraField": st.text(max_size=10), "groupID": st.text(max_size=10)},
)


@pytest.fixture
async def client(aiohttp_client: MakeClient, database_url: str, policy: Policy) -> Client:
    await upgrade_async(database_url)
    return await aiohttp_client(bot_app(database_url, policy))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=payloads)
async def test_schema_valid_payload_is_always_accepted_and_processed(
    client: Client, database_url: str, payload: dict[str, Any]
) -> None:
    resp = await client.post(
        "/webhooks/alertmanager", data=json.dumps(payload).encode(), headers=AM_AUTH
    )
    assert resp.status == 202, await resp.text()
    key = (await resp.json())["delivery"]
    await process_inbox(client.app)
    outcomes = {row.key: (row.outcome, row.detail) for row in await inbox_rows(database_url)}
    outcome, detail = outcomes[key]
    assert outcome in ("processed", "ignored"), detail
