"""The PagerDuty sender drives the real ``pagerduty`` client against the fake_pagerduty PagerDuty over
TLS on 127.0.0.1: what each row sends, and what each answer means for the row. Every send
is one request: the client's own retries are off (the outbox retries)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.clock import FixedClock
from bot.config import Settings
from bot.domain.incident import JSON
from bot.domain.outbox import PAGERDUTY, OutboundCall, Outcome
from bot.errors import ConfigError
from bot.integrations.pagerduty import PagerDutyLogSender, PagerDutySender, pagerduty_sender
from tests.fakes.pagerduty.server import FakePagerDuty, Scripted
from tests.fakes.pagerduty.testing import LNN_ROUTING_KEY, ROUTING_KEY
from tests.support.tls import make_tls, trust

KEY = "firebreak-incident-7"


def trigger_args(dedup_key: str = KEY, **changes: object) -> JSON:
    args: JSON = {
        "dedup_key": dedup_key,
        "summary": "P0 lnn-service: error rate 12% over 5m",
        "source": "lnn-service.prod",
        "severity": "critical",
        "component": "lnn-service",
        "group": "liquid-edge",
        "class": "HighErrorRate",
        "custom_details": {"alerts": ["HighErrorRate"], "triage": ["Open the dashboard"]},
        "links": [{"href": "http://127.0.0.1:8080/incidents/7", "text": "firebreak incident 7"}],
        "service": "",
    }
    args.update(changes)
    return args


@pytest.fixture
def sender(
    pagerduty_served: tuple[FakePagerDuty, str], clock: FixedClock
) -> Iterator[PagerDutySender]:
    made = PagerDutySender(
        ROUTING_KEY,
        routing_keys={"lnn-service": LNN_ROUTING_KEY},
        events_url=pagerduty_served[1],
        clock=clock,
        timeout=5,
    )
    yield made
    made.close()


async def test_a_trigger_carries_the_rows_fields_and_keeps_pagerdutys_answer(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    result = await sender.send("trigger", trigger_args())
    assert result.outcome is Outcome.SENT
    assert result.kept == {"dedup_key": KEY, "status": "success", "message": "Event processed"}
    assert fake_pagerduty.accepted() == [
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": KEY,
            "payload": {
                "summary": "P0 lnn-service: error rate 12% over 5m",
                "source": "lnn-service.prod",
                "severity": "critical",
                "component": "lnn-service",
                "group": "liquid-edge",
                "class": "HighErrorRate",
                "custom_details": {"alerts": ["HighErrorRate"], "triage": ["Open the dashboard"]},
            },
            "links": [
                {"href": "http://127.0.0.1:8080/incidents/7", "text": "firebreak incident 7"}
            ],
        }
    ]
    (alert,) = fake_pagerduty.alerts.for_key(KEY)
    assert (alert.status, alert.routing_key) == ("triggered", ROUTING_KEY)


async def test_acknowledge_then_resolve_move_the_same_alert(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    assert (await sender.send("trigger", trigger_args())).outcome is Outcome.SENT
    acked = await sender.send("acknowledge", {"dedup_key": KEY, "service": ""})
    assert acked.outcome is Outcome.SENT
    assert fake_pagerduty.alerts.for_key(KEY)[0].status == "acknowledged"
    resolved = await sender.send("resolve", {"dedup_key": KEY})
    assert (resolved.outcome, resolved.kept["dedup_key"]) == (Outcome.SENT, KEY)
    (alert,) = fake_pagerduty.alerts.for_key(KEY)
    assert alert.actions() == ["trigger", "acknowledge", "resolve"]
    assert alert.status == "resolved"
    assert [e["event_action"] for e in fake_pagerduty.accepted()] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert set(fake_pagerduty.accepted()[1]) == {"routing_key", "event_action", "dedup_key"}
    # After a resolve, PagerDuty opens a new alert for a trigger with the same key.
    await sender.send("trigger", trigger_args())
    assert [a.status for a in fake_pagerduty.alerts.for_key(KEY)] == ["resolved", "triggered"]


async def test_triggers_sent_twice_with_one_dedup_key_are_one_alert(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    for _ in range(2):
        assert (await sender.send("trigger", trigger_args())).outcome is Outcome.SENT
    assert len(fake_pagerduty.accepted()) == 2
    assert len(fake_pagerduty.alerts.for_key(KEY)) == 1


async def test_a_named_service_uses_its_routing_key_and_events_must_keep_naming_it(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    assert sender.services == {"", "lnn-service"}
    await sender.send("trigger", trigger_args(service="lnn-service"))
    (alert,) = fake_pagerduty.alerts.for_key(KEY)
    assert alert.routing_key == LNN_ROUTING_KEY
    # PagerDuty drops an acknowledge sent through another routing key than the trigger's.
    assert (await sender.send("acknowledge", {"dedup_key": KEY})).outcome is Outcome.SENT
    assert alert.status == "triggered"
    assert len(fake_pagerduty.alerts.dropped) == 1
    await sender.send("acknowledge", {"dedup_key": KEY, "service": "lnn-service"})
    assert alert.status == "acknowledged"


async def test_an_unknown_service_or_a_row_without_dedup_key_fails_before_sending(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    unknown = await sender.send("trigger", trigger_args(service="storage"))
    assert unknown.outcome is Outcome.FAILED
    assert unknown.error == "unknown PagerDuty service 'storage': not in PAGERDUTY_ROUTING_KEYS"
    keyless = await sender.send("resolve", {"dedup_key": ""})
    assert (keyless.outcome, keyless.error) == (
        Outcome.FAILED,
        "a PagerDuty event needs a dedup_key",
    )
    odd = await sender.send("snooze", {"dedup_key": KEY})
    assert odd.outcome is Outcome.FAILED
    assert fake_pagerduty.events == []


async def test_a_400_fails_for_good_with_pagerdutys_own_message(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender
) -> None:
    result = await sender.send("trigger", trigger_args(severity="sev1", source=""))
    assert result.outcome is Outcome.FAILED
    assert result.error == (
        "HTTP 400: Event object is invalid: 'payload.source' is missing or blank; "
        "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
    )
    assert [r.status for r in fake_pagerduty.events] == [400]
    assert fake_pagerduty.alerts.all == []


async def test_a_routing_key_of_the_wrong_length_is_pagerdutys_documented_400(
    pagerduty_served: tuple[FakePagerDuty, str], clock: FixedClock
) -> None:
    fake_pagerduty, url = pagerduty_served
    short = PagerDutySender(ROUTING_KEY[:-1], events_url=url, clock=clock, timeout=5)
    try:
        result = await short.send("trigger", trigger_args())
    finally:
        short.close()
    assert result.outcome is Outcome.FAILED
    assert [r.status for r in fake_pagerduty.events] == [400]
    assert "Length of 'routing_key' is incorrect (should be 32 characters)" in result.error


@pytest.mark.parametrize(
    ("answer", "wait"), [(Scripted(429, retry_after="7"), 7.0), (Scripted(429), 30.0)]
)
async def test_a_429_is_rate_limited_for_retry_after_or_30_seconds_after_one_request(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender, answer: Scripted, wait: float
) -> None:
    fake_pagerduty.script_events(answer)
    result = await sender.send("trigger", trigger_args())
    assert (result.outcome, result.retry_after, result.method) == (
        Outcome.RATE_LIMITED,
        wait,
        "trigger",
    )
    assert [r.status for r in fake_pagerduty.events] == [429]  # the client did not retry by itself
    assert fake_pagerduty.alerts.all == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_retried_by_the_outbox_not_by_the_client(
    fake_pagerduty: FakePagerDuty, sender: PagerDutySender, status: int
) -> None:
    fake_pagerduty.script_events(status)
    result = await sender.send("trigger", trigger_args())
    assert result.outcome is Outcome.RETRY
    assert result.error == f"HTTP {status}: scripted {status}"
    assert [r.status for r in fake_pagerduty.events] == [status]


async def test_a_server_that_is_not_listening_is_a_retry(clock: FixedClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = PagerDutySender(ROUTING_KEY, events_url=f"https://127.0.0.1:{port}", clock=clock)
    try:
        result = await closed.send("trigger", trigger_args())
    finally:
        closed.close()
    assert result.outcome is Outcome.RETRY
    assert result.error.startswith("connection: ConnectError")


async def test_a_certificate_the_process_does_not_trust_is_refused(
    pagerduty_served: tuple[FakePagerDuty, str],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_pagerduty, url = pagerduty_served
    other = tmp_path / "other"
    other.mkdir()
    trust(make_tls(other), monkeypatch)  # another CA: the fake_pagerduty's certificate is not its
    stranger = PagerDutySender(ROUTING_KEY, events_url=url, clock=clock, timeout=5)
    try:
        result = await stranger.send("trigger", trigger_args())
    finally:
        stranger.close()
    assert result.outcome is Outcome.RETRY
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert fake_pagerduty.events == []


def test_the_client_refuses_a_plain_http_url(clock: FixedClock) -> None:
    with pytest.raises(ConfigError, match="must be an https:// URL"):
        PagerDutySender(ROUTING_KEY, events_url="http://127.0.0.1:9", clock=clock)


def test_without_a_routing_key_the_sender_only_logs(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(pagerduty_sender(Settings(), clock=clock), PagerDutyLogSender)
    configured = Settings(pagerduty_routing_key=SecretStr(ROUTING_KEY))
    real = pagerduty_sender(configured, clock=clock)
    assert isinstance(real, PagerDutySender)
    assert real.configured
    real.close()
    quiet = PagerDutyLogSender()
    assert not quiet.configured
    call = OutboundCall(
        ordering_key="pagerduty:7",
        method="trigger",
        args=trigger_args(),
        incident_id=7,
        target=PAGERDUTY,
    )
    with caplog.at_level(logging.INFO, logger="firebreak.pagerduty"):
        assert quiet.skip(call) == "paging not configured"
    assert (
        f"incident 7: would trigger {KEY} on the default service [critical] "
        "P0 lnn-service: error rate 12% over 5m"
    ) in caplog.text
