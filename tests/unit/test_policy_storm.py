"""The policy's ``noise.storm``: the shipped values, what ``firebreak policy check`` reports
about a wrong one (with its line), the storm key, and the storm card (bounded for a storm of
a thousand groups)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.groups import find_group, groups_of
from bot.domain.incident import AlertEpisode, AlertStatus, Severity
from bot.errors import PolicyError
from bot.integrations.slack import kit
from bot.integrations.slack.card import CardView, render_card
from bot.policy.file import DEFAULT_POLICY, parse_policy
from bot.policy.model import Policy
from bot.policy.noise import StormBy, StormPolicy
from tests.support.incidents import T0, incident

SHIPPED = DEFAULT_POLICY.read_text(encoding="utf-8")
STORM = SHIPPED[SHIPPED.index("  storm:\n") :]
WITHOUT_STORM = SHIPPED.replace(STORM, "")


def with_storm(section: str) -> str:
    return WITHOUT_STORM + section


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def test_the_shipped_policy_collapses_more_than_five_incidents_in_two_minutes(
    policy: Policy,
) -> None:
    assert policy.noise.storm == StormPolicy(5, timedelta(minutes=2), StormBy.SERVICE)
    assert policy.noise.storm.enabled


def test_without_a_storm_section_nothing_collapses() -> None:
    storm = parse_policy(WITHOUT_STORM).noise.storm
    assert not storm.enabled


def test_threshold_zero_turns_it_off_and_by_namespace_keys_on_the_label() -> None:
    off = parse_policy(with_storm("  storm: {threshold: 0}\n")).noise.storm
    assert not off.enabled
    by_ns = parse_policy(with_storm("  storm: {by: namespace, window: 5m}\n")).noise.storm
    assert by_ns == StormPolicy(5, timedelta(minutes=5), StormBy.NAMESPACE)
    assert by_ns.key("lnn-service", {"namespace": "firebreak"}) == "namespace=firebreak"
    assert by_ns.key("lnn-service", {}) is None
    assert StormPolicy(5).key("lnn-service", {}) == "service=lnn-service"
    # Alerts nobody attributed to a service are not lumped into one storm.
    assert StormPolicy(5).key("unknown", {"namespace": "x"}) is None


def test_shape_errors_are_reported_with_lines() -> None:
    text = with_storm("  storm:\n    threshold: -1\n    window: 0s\n    by: cluster\n")
    found = problems(text)
    for needle, where in [
        ("threshold: -1", "noise.storm.threshold"),
        ("window: 0s", "noise.storm.window"),
        ("by: cluster", "noise.storm.by"),
    ]:
        prefix = f"line {line_of(text, needle)}: {where}: "
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def episode(i: int, group: int, name: str = "LNNHighLatency") -> AlertEpisode:
    return AlertEpisode(
        id=i,
        incident_id=42,
        fingerprint=f"fp{i}",
        status=AlertStatus.FIRING if i % 2 else AlertStatus.RESOLVED,
        severity=Severity.P0 if name == "LNNServiceDown" else Severity.P1,
        labels={"alertname": name},
        annotations={},
        starts_at=T0,
        ends_at=None,
        generator_url="",
        group_key=f'{{}}:{{group="g{group:04d}"}}',
    )


def test_the_storm_card_counts_groups_and_stays_within_slacks_limits() -> None:
    storm = incident(storm_key="service=lnn-service", group_key='{}:{group="g0001"}')
    alerts = [
        episode(i, 1 + i // 2, "LNNServiceDown" if i % 7 == 0 else "LNNHighLatency")
        for i in range(1, 2001)
    ]
    card = render_card(
        CardView(incident=storm, alerts=alerts, scenario=None, commander=None, now=T0)
    )
    (section,) = [b for b in card.blocks if b.get("block_id") == "firebreak.storm"]
    text = section["text"]["text"]
    assert "1001 groups" in text
    assert "LNNHighLatency (P1) ×" in text
    assert "LNNServiceDown (P0) ×" in text
    assert '1. `{}:{group="g0001"}`' in text
    assert "and 996 more groups" in text
    assert len(text) <= kit.SECTION_TEXT_MAX
    assert len(card.blocks) <= kit.MAX_BLOCKS
    # Not a storm: no storm section.
    plain = render_card(
        CardView(
            incident=replace(storm, storm_key=None),
            alerts=alerts,
            scenario=None,
            commander=None,
            now=T0,
        )
    )
    assert not [b for b in plain.blocks if b.get("block_id") == "firebreak.storm"]


def test_groups_are_found_by_number_key_or_unique_prefix() -> None:
    groups = groups_of(incident(), [episode(1, 10), episode(2, 11), episode(3, 10)])
    assert [(g.number, len(g.alerts)) for g in groups] == [(1, 2), (2, 1)]
    assert find_group(groups, "2") == groups[1]
    assert find_group(groups, '{}:{group="g0010"}') == groups[0]
    assert find_group(groups, '{}:{group="g0011') == groups[1]
    assert find_group(groups, "{}:") is None  # ambiguous
    assert find_group(groups, "3") is None
