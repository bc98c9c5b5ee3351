"""Without Slack the outbox's calls are written to the log as a person would read them:
the card's title, fields, triage steps and button labels, and thread notes."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.domain.incident import AlertEpisode, AlertStatus, Severity
from bot.integrations.slack import calls
from bot.integrations.slack.card import CardView, render_card
from bot.integrations.slack.log_sender import LogSender, block_lines, describe
from bot.policy.file import DEFAULT_POLICY, load_policy
from tests.support.incidents import T0, incident


def _episode() -> AlertEpisode:
    return AlertEpisode(
        id=1,
        incident_id=42,
        fingerprint="fp1",
        status=AlertStatus.FIRING,
        severity=Severity.P1,
        labels={"alertname": "LNNHighLatency", "instance": "pod-1 <!channel>"},
        annotations={"summary": "p99 latency is 250 ms"},
        starts_at=T0,
        ends_at=None,
        generator_url="",
    )


def test_the_card_is_logged_with_its_title_steps_and_buttons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = load_policy(DEFAULT_POLICY).scenarios["high-latency"]
    view = CardView(incident(), [_episode()], scenario, None, T0 + timedelta(minutes=2))
    card = render_card(view)
    call = calls.post_card(42, text=card.text, blocks=card.blocks)
    sender = LogSender()
    assert sender.configured is False
    with caplog.at_level(logging.INFO, logger="firebreak.slack"):
        reason = sender.skip(call)
    assert reason == "SLACK_BOT_TOKEN is not set"
    (record,) = caplog.records
    text = record.getMessage()
    lines = text.splitlines()
    assert (
        lines[0]
        == "Slack is not configured; incident 42: chat.postMessage to the incident's channel"
    )
    assert all(line.startswith("    | ") for line in lines[1:]), "every card line marked"
    assert any(line.startswith("    | == ") and "P1" in line for line in lines), text
    assert "*Severity* P1" in text
    assert "*Triage*" in text
    assert f"    | 1. {scenario.triage[0][:15]}" in text
    assert "*Started* 2026-11-22 10:00 UTC" in text, "a date token reads as its fallback"
    assert "buttons: [Acknowledge] [Resolve]" in text
    # Slack's escapes are undone for the reader: the label reads as it was sent.
    assert "pod-1 <!channel>" in text


def test_channel_topic_invite_and_thread_notes_read_plainly() -> None:
    assert describe(calls.create_channel(7, "inc-20261207-0007-lnnhighlatency")) == (
        "incident 7: would create channel #inc-20261207-0007-lnnhighlatency"
    )
    assert describe(calls.set_topic(7, "P1 High Latency &amp; more")) == (
        "incident 7: would set the channel topic: P1 High Latency & more"
    )
    assert describe(calls.invite(7, ["U1", "U2"])) == "incident 7: would invite U1,U2"
    note = describe(calls.post_in_thread(7, text="acknowledged by alice\nsecond line"))
    assert note == (
        "incident 7: chat.postMessage to the card's thread\n"
        "    | acknowledged by alice\n"
        "    | second line"
    )
    update = describe(calls.update_card(7, text="card v2"))
    assert update.startswith("incident 7: chat.update to the card (updated in place)")
    triage = describe(calls.post_card(8, text="P2 card", channel="#triage"))
    assert triage.startswith("incident 8: chat.postMessage to #triage")


def test_a_link_is_logged_with_its_address() -> None:
    blocks = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "<http://127.0.0.1:8080/ui/incidents/4|Incident #4> · alertmanager",
                }
            ],
        }
    ]
    assert block_lines(blocks) == [
        "Incident #4 (http://127.0.0.1:8080/ui/incidents/4) · alertmanager"
    ]
