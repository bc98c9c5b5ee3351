"""The policy's ``noise`` section: the shipped values, what ``firebreak policy check`` reports
about a wrong one (with its line), and the flap count on the incident card."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.incident import Severity
from bot.errors import PolicyError
from bot.integrations.slack.card import CardView, render_card
from bot.policy.file import DEFAULT_POLICY, parse_policy
from bot.policy.model import Policy
from bot.policy.noise import FlapPolicy
from tests.support.incidents import T0, incident

SHIPPED = DEFAULT_POLICY.read_text(encoding="utf-8")
NOISE = SHIPPED[SHIPPED.index("\nnoise:\n") :]
WITHOUT_NOISE = SHIPPED.replace(NOISE, "\n")


def with_noise(section: str) -> str:
    return WITHOUT_NOISE + section


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def test_the_shipped_policy_reopens_within_ten_minutes_and_inhibits_symptoms(
    policy: Policy,
) -> None:
    assert policy.noise.flap == FlapPolicy(timedelta(minutes=10), 3)
    (rule,) = policy.noise.inhibit
    assert (rule.source_scenario, rule.source_severity) == ("service-down", Severity.P0)
    assert rule.target_scenarios == {"high-latency", "high-error-rate", "low-throughput"}
    assert rule.equal == ("namespace", "deployment")
    assert rule.key({"namespace": "a", "deployment": "b", "pod": "c"}) == ("a", "b")
    assert rule.key({"namespace": "a"}) is None


def test_without_a_noise_section_flaps_reopen_and_nothing_is_inhibited() -> None:
    policy = parse_policy(WITHOUT_NOISE)
    assert policy.noise.flap == FlapPolicy()
    assert policy.noise.inhibit == ()


def test_a_zero_window_never_reopens() -> None:
    flap = parse_policy(with_noise("noise:\n  flap: {window: 0}\n")).noise.flap
    assert not flap.reopens(T0, T0 + timedelta(seconds=1))
    assert FlapPolicy().reopens(T0, T0 + timedelta(minutes=10))
    assert not FlapPolicy().reopens(T0, T0 + timedelta(minutes=10, seconds=1))


def test_unknown_scenarios_and_a_scenario_inhibiting_itself_are_reported_with_lines() -> None:
    text = with_noise(
        "noise:\n"
        "  inhibit:\n"
        "    - source: {scenario: service-gone}\n"
        "      targets:\n"
        "        scenarios:\n"
        "          - high-latency-ish\n"
        "          - service-gone\n"
        "      equal: [deployment]\n"
        "    - source: {scenario: service-down}\n"
        "      targets:\n"
        "        scenarios:\n"
        "          - service-down\n"
        "      equal: [deployment]\n"
    )
    found = problems(text)
    assert (
        f"line {line_of(text, 'service-gone}')}: noise.inhibit.0.source.scenario: unknown scenario 'service-gone'"
        in found
    )
    assert (
        f"line {line_of(text, 'high-latency-ish')}: noise.inhibit.0.targets.scenarios.0: unknown scenario 'high-latency-ish'"
        in found
    )
    assert any("scenario 'service-down' cannot be a symptom of itself" in p for p in found)


def test_shape_errors_are_reported_with_lines() -> None:
    text = with_noise(
        "noise:\n"
        "  flap:\n"
        "    window: soon\n"
        "    threshold: 0\n"
        "  inhibit:\n"
        "    - source: {scenario: service-down, severity: P9}\n"
        "      targets: {scenarios: []}\n"
        "      equal: [not-a-label]\n"
    )
    found = problems(text)
    for needle, where in [
        ("window: soon", "noise.flap.window"),
        ("threshold: 0", "noise.flap.threshold"),
        ("severity: P9", "noise.inhibit.0.source.severity"),
        ("scenarios: []", "noise.inhibit.0.targets.scenarios"),
        ("not-a-label", "noise.inhibit.0.equal"),
    ]:
        prefix = f"line {line_of(text, needle)}: {where}: "
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def flaps_field(count: int) -> str:
    view = CardView(
        incident=incident(flap_count=count), alerts=(), scenario=None, commander=None, now=T0
    )
    text = str(render_card(view).blocks)
    start = text.find("*Flaps*")
    return "" if start < 0 else text[start : text.find("'", start)]


def test_the_card_shows_flaps_and_says_when_the_incident_is_flapping() -> None:
    assert flaps_field(0) == ""
    assert flaps_field(2) == "*Flaps*\\n2"
    assert flaps_field(3).startswith(
        "*Flaps*\\n:warning: 3, flapping: a re-trigger pages only once firing for 10m"
    )
