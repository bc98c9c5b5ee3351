"""The incident card and the messages around it, each cross-checked with the fake Slack's
Block Kit validator (``tests/fakes/slack/blocks.py``) and Slack's rule that ``action_id``
is unique within an actions block."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.action import ActionState
from bot.domain.actor import Actor
from bot.domain.deployment import RolloutProgress
from bot.domain.incident import (
    AlertEpisode,
    AlertStatus,
    IncidentStatus,
    Severity,
    TimelineEntry,
)
from bot.integrations.slack.card import CardView, render_card, render_triage_post
from bot.integrations.slack.kit import Message
from bot.integrations.slack.messages import (
    ApprovalView,
    ProgressView,
    progress_bar,
    render_approval_request,
    render_progress,
    render_timeline_entry,
)
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.policy.model import ActionBounds, Scenario, SuggestedAction
from tests.fakes.slack.blocks import parse_blocks
from tests.support.incidents import T0, incident

ATTACKS = ["<!channel>", "<@U123>", "<https://evil|Approve>"]


def episode(n: int, **labels: str) -> AlertEpisode:
    return AlertEpisode(
        id=n,
        incident_id=42,
        fingerprint=f"fp{n}",
        status=AlertStatus.FIRING,
        severity=Severity.P1,
        labels={"alertname": "LNNHighLatency", "instance": f"pod-{n}", **labels},
        annotations={"summary": f"p99 latency is 180 ms on pod-{n}"},
        starts_at=T0 + timedelta(seconds=n),
        ends_at=None,
        generator_url="",
    )


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_policy(DEFAULT_POLICY).scenarios["high-latency"]


def validated(message: Message) -> list[dict[str, Any]]:
    """The blocks as Slack would accept them; fails the test otherwise."""
    assert message.text
    assert len(message.text) <= 3000
    blocks = parse_blocks(json.dumps(message.blocks))
    assert blocks is not None
    for block in blocks:
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids)), f"duplicate action_id in {block}"
    return blocks


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def filled(step: str) -> str:
    """A step of the default policy as the card shows it for an alert in ``prod``."""
    for name, value in {
        "{namespace}": "prod",
        "{deployment}": "lnn-service",
        "{selector}": "app.kubernetes.io/name=lnn-service",
    }.items():
        step = step.replace(name, value)
    return step


def test_open_card_shows_facts_alerts_steps_and_buttons(scenario: Scenario) -> None:
    where = {"namespace": "prod", "deployment": "lnn-service"}
    view = CardView(
        incident(),
        [episode(1, **where), episode(2, **where)],
        scenario,
        "U0COMMAND",
        T0 + timedelta(minutes=12),
        kubernetes=load_policy(DEFAULT_POLICY).kubernetes,
    )
    message = render_card(view)
    blocks = validated(message)
    header = blocks[0]
    assert header["type"] == "header"
    assert "P1" in header["text"]["text"]
    assert "LNNHighLatency: p99 above 100 ms" in header["text"]["text"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in blocks[1]["fields"]}
    assert fields["*Severity*"] == "P1"
    assert fields["*Status*"] == "Triggered"
    assert fields["*Service*"] == "lnn-service"
    assert fields["*Started*"].startswith(f"<!date^{int(T0.timestamp())}^")
    assert fields["*Response target*"] == "1 h · 48 min left"
    assert fields["*Commander*"] == "<@U0COMMAND>"
    text = all_text(blocks)
    assert "Firing alerts (2)" in text
    assert "pod-1" in text
    assert "pod-2" in text
    for i, step in enumerate(scenario.triage, 1):
        assert f"{i}. {filled(step)}" in text
    for i, step in enumerate(scenario.mitigation, 1):
        assert f"{i}. {filled(step)}" in text
    assert "kubectl top pods -n prod -l app.kubernetes.io/name=lnn-service" in text
    assert "On `prod/deploy/lnn-service`" in text
    found = buttons(blocks)
    assert [b["action_id"] for b in found[:2]] == ["firebreak.ack", "firebreak.resolve"]
    assert json.loads(found[0]["value"]) == {"incident": 42}
    assert json.loads(found[1]["value"]) == {"incident": 42}
    requests = found[2:]
    assert len(requests) == len(scenario.actions) > 0
    for index, (button, action) in enumerate(zip(requests, scenario.actions, strict=True)):
        assert button["action_id"] == "firebreak.request_action"
        assert json.loads(button["value"]) == {"incident": 42, "action": index}
        assert button["text"]["text"] == (action.label or button["text"]["text"])
    assert "P1 incident #42" in message.text


def test_the_footer_links_to_the_incidents_page_when_there_is_one(scenario: Scenario) -> None:
    bare = CardView(incident(), [episode(1)], scenario, None, T0)
    assert "/ui/incidents/" not in all_text(validated(render_card(bare)))
    page = "https://firebreak.example/ui/incidents/42"
    footer = validated(render_card(replace(bare, page=page)))[-1]
    assert footer["type"] == "context"
    text = footer["elements"][0]["text"]
    assert text.startswith(f"<{page}|Incident #42> · alertmanager · updated ")
    assert text.endswith(f" · <{page}|open the incident page>")


def test_a_link_is_one_link_whatever_its_url_or_label_holds() -> None:
    from bot.text import link

    assert link("https://f.example/a b|c>d", "<@U1> & co") == (
        "<https://f.example/a%20b%7Cc%3Ed|&lt;@U1&gt; &amp; co>"
    )


def test_acknowledge_disappears_once_acknowledged(scenario: Scenario) -> None:
    acked = incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=T0 + timedelta(minutes=3))
    blocks = validated(
        render_card(CardView(acked, [episode(1)], scenario, None, T0 + timedelta(minutes=5)))
    )
    ids = [b["action_id"] for b in buttons(blocks)]
    assert "firebreak.ack" not in ids
    assert "firebreak.resolve" in ids
    assert "met, answered after 3 min" in all_text(blocks)
    assert "Commander" not in all_text(blocks)


def test_overdue_incident_says_by_how_much() -> None:
    view = CardView(incident(), [episode(1)], None, None, T0 + timedelta(minutes=75, seconds=5))
    assert "overdue by 15 min 5 s" in all_text(validated(render_card(view)))


def test_resolved_card_has_no_buttons_and_the_duration(scenario: Scenario) -> None:
    done = incident(status=IncidentStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=30))
    resolved = replace(episode(1), status=AlertStatus.RESOLVED, ends_at=T0 + timedelta(minutes=29))
    blocks = validated(
        render_card(CardView(done, [resolved], scenario, None, T0 + timedelta(hours=1)))
    )
    assert buttons(blocks) == []
    text = all_text(blocks)
    assert "Resolved" in text
    assert "30 min" in text
    assert "None firing (1 resolved)" in text
    assert "postmortem 42" in text


def test_triage_post_is_the_same_card(scenario: Scenario) -> None:
    p2 = incident(severity=Severity.P2)
    view = CardView(p2, [episode(1)], scenario, None, T0)
    assert render_triage_post(view) == render_card(view)
    validated(render_triage_post(view))


@pytest.mark.parametrize("attack", ATTACKS)
def test_untrusted_text_reaches_the_card_inert(attack: str) -> None:
    evil = SuggestedAction(verb="scale", deployment="x", namespace="y", label=f"Scale {attack}")
    scenario = Scenario(
        id="s",
        title=f"T {attack}",
        summary=attack,
        triage=(attack,),
        mitigation=(attack,),
        actions=(evil,),
    )
    alert = replace(episode(1, team=attack), annotations={"summary": attack})
    view = CardView(
        incident(title=f"title {attack}", service=attack),
        [alert],
        scenario,
        attack,  # a commander that is not an id is shown as text
        T0,
    )
    message = render_card(view)
    blocks = validated(message)
    # The only `<` left are the bot's own date tokens.
    leftovers = re.sub(r"<!date\^\d+\^[^|>]*\|[^>]*>", "", all_text(blocks) + message.text)
    assert "<" not in leftovers
    assert "&lt;" in all_text(blocks)


def test_limits_hold_for_500_alerts_10kb_titles_and_40_actions() -> None:
    actions = tuple(
        SuggestedAction(
            verb="scale", deployment=f"d{i}", namespace="n", label="L" * 300, replicas=i
        )
        for i in range(40)
    )
    steps = tuple("step " + "s" * 500 for _ in range(30))
    scenario = Scenario(
        id="s",
        title="S" * 10_000,
        summary="x" * 10_000,
        triage=steps,
        mitigation=steps,
        actions=actions,
    )
    alerts = [episode(i, big="v" * 5_000) for i in range(500)]
    view = CardView(incident(title="T" * 10_000, service="s" * 10_000), alerts, scenario, "U0C", T0)
    message = render_card(view)
    blocks = validated(message)
    assert len(blocks) <= 50
    text = all_text(blocks)
    assert "Firing alerts (500)" in text
    assert "and 490 more" in text
    assert "(truncated)" in text
    assert blocks[0]["text"]["text"].endswith("…")
    requests = [b for b in buttons(blocks) if b["action_id"] == "firebreak.request_action"]
    assert 0 < len(requests) < 40
    # The buttons shown are the first actions, in order, with their own indexes.
    assert [json.loads(b["value"])["action"] for b in requests] == list(range(len(requests)))
    assert f"{40 - len(requests)} more suggested actions" in text
    assert all(len(b["text"]["text"]) <= 75 for b in requests)


def test_approval_request_shows_who_what_bounds_and_buttons() -> None:
    view = ApprovalView(
        request_id=7,
        incident_id=42,
        requester="U0ASKER",
        verb="scale",
        target="lnn/deploy/lnn-service",
        change="replicas 3 → 6",
        state=ActionState.REQUESTED,
        bounds=ActionBounds(min_replicas=3, max_replicas=10),
        approvals_required=2,
        approvals=("U0FIRST",),
        expires_at=T0 + timedelta(minutes=10),
    )
    blocks = validated(render_approval_request(view, now=T0))
    text = all_text(blocks)
    for part in (
        "<@U0ASKER>",
        "lnn/deploy/lnn-service",
        "replicas 3 → 6",
        "replicas 3–10",
        "1 of 2",
        "<@U0FIRST>",
        "in 10 min",
    ):
        assert part in text
    found = buttons(blocks)
    assert [b["action_id"] for b in found] == ["firebreak.approve", "firebreak.deny"]
    assert all(json.loads(b["value"]) == {"action_request": 7} for b in found)


@pytest.mark.parametrize("state", [s for s in ActionState if s is not ActionState.REQUESTED])
def test_approval_message_has_no_buttons_once_decided(state: ActionState) -> None:
    view = ApprovalView(
        7, 42, "U0ASKER", "rollback", "lnn/deploy/x", "to revision 3", state, reason="<!channel>"
    )
    blocks = validated(render_approval_request(view, now=T0))
    assert buttons(blocks) == []
    assert state.value in all_text(blocks)
    assert "<!channel>" not in all_text(blocks)


def test_progress_message_shows_the_rollout() -> None:
    progress = RolloutProgress(
        desired=6,
        updated=4,
        ready=3,
        available=3,
        observed_current=True,
        done=False,
        message="Waiting for rollout to finish: 3 of 6 updated replicas are available...",
    )
    message = render_progress(
        ProgressView(7, "scale", "lnn/deploy/lnn-service", ActionState.RUNNING, progress)
    )
    text = all_text(validated(message))
    assert "▓▓▓▓▓░░░░░ 3/6" in text
    assert "4/6" in text
    assert "in progress" in text
    assert "3 of 6 updated replicas" in message.text


def test_failed_progress_suggests_a_rollback() -> None:
    view = ProgressView(
        7, "restart", "lnn/deploy/x", ActionState.FAILED, detail="ProgressDeadlineExceeded <@U1>"
    )
    text = all_text(validated(render_progress(view)))
    assert "rollback" in text
    assert "&lt;@U1&gt;" in text


def test_progress_bar_bounds() -> None:
    assert progress_bar(0, 4) == "░" * 10 + " 0/4"
    assert progress_bar(9, 4) == "▓" * 10 + " 9/4"
    assert progress_bar(0, 0) == "no replicas desired"


def entry(kind: str, body: dict[str, Any], actor: str = "system:alertmanager") -> TimelineEntry:
    return TimelineEntry(
        42, 1, T0 + timedelta(seconds=5), Actor.parse(actor), kind, body, "0" * 64, "1" * 64
    )


@pytest.mark.parametrize(
    ("kind", "body", "actor", "expected"),
    [
        (
            "incident.opened",
            {"title": "Down", "severity": "P0", "rule": "r1"},
            "system:alertmanager",
            "Opened as P0: Down (rule r1)",
        ),
        (
            "alert.firing",
            {"alertname": "LNNDown", "severity": "P0"},
            "system:alertmanager",
            "Alert LNNDown firing (P0)",
        ),
        (
            "alert.repeat",
            {"alerts": 3, "status": "firing"},
            "system:alertmanager",
            "re-sent (3 alerts, firing)",
        ),
        (
            "severity.changed",
            {"from": "P2", "to": "P1", "rule": "r"},
            "system:alertmanager",
            "Severity P2 → P1 (r)",
        ),
        ("incident.acknowledged", {}, "slack:U0ACK", "<@U0ACK> · Acknowledged"),
        (
            "incident.resolved",
            {"reason": "all alerts resolved"},
            "system:alertmanager",
            "Resolved: all alerts resolved",
        ),
        ("note", {"text": "restarted <!channel>"}, "slack:U0N", "Note: restarted &lt;!channel&gt;"),
        ("commander.assigned", {"user": "U0BOSS"}, "slack:U0N", "Commander: <@U0BOSS>"),
        (
            "action.requested",
            {"action_id": 7, "verb": "scale", "target": "lnn/deploy/x", "replicas": 6},
            "slack:U0N",
            "Action #7 requested: scale lnn/deploy/x (replicas 6)",
        ),
        (
            "action.failed",
            {"action_id": 7, "verb": "scale", "detail": "target changed since approval"},
            "bot:firebreak",
            "Action #7 failed: scale: target changed since approval",
        ),
        ("something.new", {"b": 2, "a": "<x>"}, "bot:firebreak", "something.new: a=&lt;x&gt;, b=2"),
    ],
)
def test_timeline_entry_lines(kind: str, body: dict[str, Any], actor: str, expected: str) -> None:
    message = render_timeline_entry(entry(kind, body, actor))
    blocks = validated(message)
    assert expected in blocks[0]["text"]["text"]
    assert blocks[0]["text"]["text"].startswith(
        f"<!date^{int((T0 + timedelta(seconds=5)).timestamp())}^"
    )
    assert "10:00:05" in message.text


untrusted = st.text(max_size=4000)


@settings(max_examples=40, deadline=None)
@given(
    title=untrusted,
    service=untrusted,
    label=untrusted,
    steps=st.lists(untrusted, max_size=5),
    labels=st.lists(untrusted, max_size=30),
    status=st.sampled_from(IncidentStatus),
)
def test_any_untrusted_text_renders_a_valid_inert_card(
    title: str,
    service: str,
    label: str,
    steps: list[str],
    labels: list[str],
    status: IncidentStatus,
) -> None:
    actions = tuple(
        SuggestedAction(verb="restart", deployment="d", namespace="n", label=lbl) for lbl in labels
    )
    scenario = Scenario(
        id="s", title=label, triage=tuple(steps), mitigation=tuple(steps), actions=actions
    )
    alerts = [episode(i, note=label) for i in range(3)]
    view = CardView(
        incident(title=title, service=service, status=status), alerts, scenario, label, T0
    )
    message = render_card(view)
    blocks = validated(message)
    leftovers = re.sub(r"<!date\^\d+\^[^|>]*\|[^>]*>", "", all_text(blocks) + message.text)
    leftovers = re.sub(r"<@[UW][A-Z0-9]+>", "", leftovers)
    assert "<" not in leftovers
    assert bool(buttons(blocks)) is status.is_open
