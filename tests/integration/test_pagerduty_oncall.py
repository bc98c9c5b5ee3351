"""Who is on call, from the fake_pagerduty PagerDuty's REST API over TLS through the real
``RestApiV2Client``: levels in order, the lookup by escalation policy or service name,
pagination, and failures as ``UpstreamError``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.domain.escalation import OnCall
from bot.errors import UpstreamError
from bot.integrations.pagerduty import PagerDutyOnCall
from tests.fakes.pagerduty.server import API_TOKEN, FakePagerDuty, Scripted
from tests.fakes.pagerduty.testing import (
    MANAGER_EMAIL,
    PRIMARY_EMAIL,
    SECONDARY_EMAIL,
    Rotation,
    seed_rotation,
)

UNTIL = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def rotation(fake_pagerduty: FakePagerDuty) -> Rotation:
    return seed_rotation(fake_pagerduty.directory)


@pytest.fixture
def directory(pagerduty_served: tuple[FakePagerDuty, str]) -> Iterator[PagerDutyOnCall]:
    made = PagerDutyOnCall(API_TOKEN, api_url=pagerduty_served[1], timeout=5)
    yield made
    made.close()


LIQUID_EDGE = [
    OnCall(
        level=1,
        name="Liquid Edge On-Call",
        source="pagerduty",
        email=PRIMARY_EMAIL,
        schedule="Liquid Edge primary",
        until=UNTIL,
    ),
    OnCall(
        level=2,
        name="Platform On-Call",
        source="pagerduty",
        email=SECONDARY_EMAIL,
        schedule="Platform secondary",
        until=UNTIL,
    ),
    OnCall(level=3, name="Liquid Edge Lead", source="pagerduty", email=MANAGER_EMAIL),
]


async def test_an_escalation_policy_by_name_gives_its_levels_in_order(
    fake_pagerduty: FakePagerDuty, rotation: Rotation, directory: PagerDutyOnCall
) -> None:
    assert directory.configured
    assert list(await directory.on_call("Liquid Edge")) == LIQUID_EDGE
    oncalls = [r for r in fake_pagerduty.rest if r.path == "/oncalls"]
    assert len(oncalls) == 1
    assert ("escalation_policy_ids[]", rotation.policy.id) in oncalls[0].query
    assert ("include[]", "users") in oncalls[0].query
    assert {r.authorization for r in fake_pagerduty.rest} == {f"Token token={API_TOKEN}"}


async def test_a_service_name_stands_for_its_escalation_policy(
    fake_pagerduty: FakePagerDuty, rotation: Rotation, directory: PagerDutyOnCall
) -> None:
    assert list(await directory.on_call("lnn-service")) == LIQUID_EDGE
    assert [r.path for r in fake_pagerduty.rest] == [
        "/escalation_policies",
        "/services",
        "/oncalls",
    ]


async def test_no_service_lists_everyone_and_an_unknown_name_nobody(
    fake_pagerduty: FakePagerDuty, rotation: Rotation, directory: PagerDutyOnCall
) -> None:
    everyone = await directory.on_call(None)
    assert [(o.level, o.email) for o in everyone] == [
        (1, PRIMARY_EMAIL),
        (1, "storage-oncall@company.com"),
        (2, SECONDARY_EMAIL),
        (3, MANAGER_EMAIL),
    ]
    assert list(await directory.on_call("billing")) == []
    assert [r.path for r in fake_pagerduty.rest][-2:] == ["/escalation_policies", "/services"]


async def test_every_page_is_read(
    pagerduty_served: tuple[FakePagerDuty, str], rotation: Rotation
) -> None:
    fake_pagerduty, url = pagerduty_served
    small_pages = PagerDutyOnCall(API_TOKEN, api_url=url, page_size=2, timeout=5)
    try:
        everyone = await small_pages.on_call(None)
    finally:
        small_pages.close()
    assert len(everyone) == 4
    assert [dict(r.query).get("offset") for r in fake_pagerduty.rest] == ["0", "2"]


async def test_a_pagerduty_500_is_an_upstream_error_after_one_request(
    fake_pagerduty: FakePagerDuty, rotation: Rotation, directory: PagerDutyOnCall
) -> None:
    fake_pagerduty.script_rest(500)
    with pytest.raises(UpstreamError, match="PagerDuty answered 500 to GET /oncalls"):
        await directory.on_call(None)
    assert [r.status for r in fake_pagerduty.rest] == [500]


async def test_a_429_is_an_upstream_error_not_an_endless_retry(
    fake_pagerduty: FakePagerDuty, rotation: Rotation, directory: PagerDutyOnCall
) -> None:
    fake_pagerduty.script_rest(Scripted(429, retry_after="1"))
    with pytest.raises(UpstreamError, match="answered 429"):
        await directory.on_call("Liquid Edge")
    assert [r.status for r in fake_pagerduty.rest] == [429]


async def test_a_wrong_token_is_an_upstream_error_with_pagerdutys_message(
    pagerduty_served: tuple[FakePagerDuty, str], rotation: Rotation
) -> None:
    fake_pagerduty, url = pagerduty_served
    wrong = PagerDutyOnCall("not-the-token", api_url=url, timeout=5)
    try:
        with pytest.raises(UpstreamError, match=r"answered 401 .*: Invalid Credentials"):
            await wrong.on_call(None)
    finally:
        wrong.close()
    assert [r.status for r in fake_pagerduty.rest] == [401]


async def test_an_unreachable_api_is_an_upstream_error() -> None:
    nowhere = PagerDutyOnCall(API_TOKEN, api_url="https://127.0.0.1:1", timeout=5)
    try:
        with pytest.raises(UpstreamError, match="could not be asked"):
            await nowhere.on_call(None)
    finally:
        nowhere.close()


async def test_without_a_token_it_is_not_configured_and_knows_nobody() -> None:
    directory = PagerDutyOnCall.from_settings(Settings())
    assert not directory.configured
    assert list(await directory.on_call("Liquid Edge")) == []
    configured = PagerDutyOnCall.from_settings(Settings(pagerduty_api_token=SecretStr("t")))
    assert configured.configured
    configured.close()
