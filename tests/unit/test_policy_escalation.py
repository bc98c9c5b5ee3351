"""The policy's escalation as the YAML reader builds it: the rotation, each severity's path,
response targets written as durations, and every check with the line it points at."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.escalation import Recipient, Via
from bot.domain.incident import Severity
from bot.errors import PolicyError
from bot.policy.escalation import EscalationLevel, Notify, RotationMember, recipients
from bot.policy.escalation_checks import duration, whole_minutes
from bot.policy.file import parse_policy

# A valid policy with a rotation and a path per severity; each test breaks one snippet.
VALID = """\
version: 1
name: paths
rotation:
  primary:
    name: Primary
    email: oncall@example.com
    slack: [U0000PRIMARY, W0000SECOND]
    pagerduty: lnn-service
  secondary:
    email: platform@example.com
    slack: [S0000PLATFORM]
  lead:
    slack: [U0000LEAD]
severities:
  P0:
    name: Critical
    response: 15m
    path:
      - after: 0
        name: on call
        notify: [{page: primary}, {slack: primary}]
      - after: 15m
        name: secondary
        notify: [{email: secondary}, {slack: secondary}]
      - after: 30m
        name: lead
        notify: [{slack: lead}, {email: boss@example.com}, {slack: S0000BOSSES}]
  P1:
    name: High
    response_minutes: 60
    path:
      - after: 0s
        notify: [{slack: primary}]
      - after: 1h
        name: upgrade
        upgrade: P0
  P2:
    name: Low
    response: 4h
    path:
      - after: 0
        notify: [{email: primary}]
scenarios:
  s: {title: S}
rules:
  - {name: r, match: ['a="b"'], severity: P2, scenario: s, response: 2h30m}
  - {name: old, match: ['a="c"'], severity: P2, scenario: s, response_minutes: 90}
default: {severity: P2, scenario: s}
"""


def broken(old: str, new: str) -> str:
    assert VALID.count(old) == 1, f"snippet {old!r} must be unique in VALID"
    return VALID.replace(old, new)


def line_of(text: str, needle: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value.problems


def assert_reported(text: str, needle: str, where: str, fragment: str) -> None:
    found = problems(text)
    prefix = f"line {line_of(text, needle)}: {where}: "
    assert any(p.startswith(prefix) and fragment in p for p in found), (prefix, fragment, found)


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "delta"),
    [
        (0, timedelta(0)),
        ("0", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1d", timedelta(days=1)),
    ],
)
def test_durations_as_written(written: object, delta: timedelta) -> None:
    assert duration(written) == delta


@pytest.mark.parametrize("written", ["15", 15, True, "1x", "", "m", "15 minutes", "-5m", None, 1.5])
def test_what_is_not_a_duration(written: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        duration(written)


def test_response_targets_are_whole_minutes() -> None:
    assert whole_minutes(timedelta(hours=2, minutes=30)) == 150
    with pytest.raises(ValueError, match="not whole minutes"):
        whole_minutes(timedelta(seconds=90))
    with pytest.raises(ValueError, match="longer than 0"):
        whole_minutes(timedelta(0))


# --- what the reader builds ---------------------------------------------------------------


def test_rotation_and_paths_are_built() -> None:
    policy = parse_policy(VALID)
    assert policy.rotation["primary"] == RotationMember(
        "primary", "Primary", "oncall@example.com", ("U0000PRIMARY", "W0000SECOND"), "lnn-service"
    )
    assert policy.rotation["lead"] == RotationMember("lead", slack=("U0000LEAD",))
    p0 = policy.levels[Severity.P0].path
    assert [(lv.after, lv.name) for lv in p0] == [
        (timedelta(0), "on call"),
        (timedelta(minutes=15), "secondary"),
        (timedelta(minutes=30), "lead"),
    ]
    assert p0[0].notify == (Notify(Via.PAGE, "primary"), Notify(Via.SLACK, "primary"))
    assert policy.levels[Severity.P1].path[1] == EscalationLevel(
        after=timedelta(hours=1), upgrade=Severity.P0, name="upgrade"
    )


def test_a_level_resolves_to_addresses() -> None:
    policy = parse_policy(VALID)
    first, _, third = policy.levels[Severity.P0].path
    assert recipients(first, policy.rotation) == (
        Recipient(Via.PAGE, "primary", "lnn-service"),
        Recipient(Via.SLACK, "primary", "U0000PRIMARY"),
        Recipient(Via.SLACK, "primary", "W0000SECOND"),
    )
    # Literals stay themselves.
    assert recipients(third, policy.rotation) == (
        Recipient(Via.SLACK, "lead", "U0000LEAD"),
        Recipient(Via.EMAIL, "boss@example.com", "boss@example.com"),
        Recipient(Via.SLACK, "S0000BOSSES", "S0000BOSSES"),
    )


def test_response_targets_old_and_new_forms() -> None:
    policy = parse_policy(VALID)
    assert {s: lv.response_minutes for s, lv in policy.levels.items()} == {
        Severity.P0: 15,
        Severity.P1: 60,
        Severity.P2: 240,
    }
    assert [r.response_minutes for r in policy.rules] == [150, 90]
    assert policy.classify_labels({"a": "b"}).response_minutes == 150


def test_a_policy_without_rotation_or_paths_still_loads() -> None:
    policy = parse_policy(
        """
version: 1
name: bare
severities:
  P0: {name: a, response_minutes: 15}
  P1: {name: b, response: 1h}
  P2: {name: c, response_minutes: 240}
scenarios: {s: {title: S}}
rules: [{name: r, match: ['a="b"'], severity: P0, scenario: s}]
default: {severity: P2, scenario: s}
"""
    )
    assert policy.rotation == {}
    assert all(lv.path == () for lv in policy.levels.values())
    assert policy.levels[Severity.P1].response_minutes == 60


# --- the checks, each with its line -------------------------------------------------------

CHECKS = [
    pytest.param(
        "{slack: lead}",
        "{slack: tertiary}",
        "tertiary",
        "severities.P0.path.2.notify.0.slack",
        "unknown rotation member 'tertiary' (the rotation has lead, primary, secondary)",
        id="unknown-member",
    ),
    pytest.param(
        "{page: primary}",
        "{page: nobody}",
        "nobody",
        "severities.P0.path.0.notify.0.page",
        "unknown rotation member 'nobody'",
        id="unknown-member-paged",
    ),
    pytest.param(
        "{slack: lead}",
        "{email: lead}",
        "{email: lead}",
        "severities.P0.path.2.notify.0.email",
        "rotation member 'lead' has no email",
        id="email-to-a-member-without-email",
    ),
    pytest.param(
        "    email: platform@example.com\n    slack: [S0000PLATFORM]\n",
        "    email: platform@example.com\n",
        "{slack: secondary}",
        "severities.P0.path.1.notify.1.slack",
        "rotation member 'secondary' has no Slack ids",
        id="slack-to-a-member-without-slack",
    ),
    pytest.param(
        "{page: primary}",
        "{page: U0000PRIMARY}",
        "{page: U0000PRIMARY}",
        "severities.P0.path.0.notify.0.page",
        "a page goes to a rotation member",
        id="page-to-a-literal",
    ),
    pytest.param(
        "{email: boss@example.com}",
        "{email: 'boss at example.com'}",
        "boss at",
        "severities.P0.path.2.notify.1.email",
        "is not an email address",
        id="literal-email-not-an-address",
    ),
    pytest.param(
        "{slack: S0000BOSSES}",
        "{slack: '#bosses'}",
        "#bosses",
        "severities.P0.path.2.notify.2.slack",
        "is not a Slack id",
        id="literal-slack-not-an-id",
    ),
    pytest.param(
        "[{page: primary}, {slack: primary}]",
        "[{page: primary}, {sms: primary}]",
        "sms",
        "severities.P0.path.0.notify.1.sms",
        "Extra inputs",
        id="unknown-channel",
    ),
    pytest.param(
        "[{slack: primary}]\n      - after: 1h",
        "[{slack: primary, email: primary}]\n      - after: 1h",
        "slack: primary, email",
        "severities.P1.path.0.notify.0",
        "one of page: WHO, slack: WHO or email: WHO",
        id="two-channels-in-one-line",
    ),
    pytest.param(
        "      - after: 0\n        name: on call",
        "      - after: 5m\n        name: on call",
        "after: 5m",
        "severities.P0.path.0.after",
        "the first level must be at 0",
        id="first-level-not-at-0",
    ),
    pytest.param(
        "after: 30m",
        "after: 10m",
        "after: 10m",
        "severities.P0.path.2.after",
        "10m is not after the level before (15m)",
        id="delays-decrease",
    ),
    pytest.param(
        "after: 30m",
        "after: 900s",
        "after: 900s",
        "severities.P0.path.2.after",
        "15m is not after the level before (15m)",
        id="delays-equal",
    ),
    pytest.param(
        "after: 15m",
        "after: 15 minutes",
        "15 minutes",
        "severities.P0.path.1.after",
        "not a duration",
        id="bad-duration",
    ),
    pytest.param(
        "after: 15m",
        "after: 15",
        "after: 15",
        "severities.P0.path.1.after",
        "not a duration",
        id="bare-number",
    ),
    pytest.param(
        "upgrade: P0",
        "upgrade: P2",
        "upgrade: P2",
        "severities.P1.path.1.upgrade",
        "upgrade to P2 does not raise the severity above P1",
        id="upgrade-that-lowers",
    ),
    pytest.param(
        "upgrade: P0",
        "upgrade: P1",
        "upgrade: P1",
        "severities.P1.path.1.upgrade",
        "does not raise the severity",
        id="upgrade-to-the-same",
    ),
    pytest.param(
        "        upgrade: P0\n",
        "        upgrade: P0\n      - after: 2h\n        notify: [{slack: lead}]\n",
        "after: 2h",
        "severities.P1.path.2",
        "unreachable: level 1 upgrades the severity",
        id="level-after-an-upgrade",
    ),
    pytest.param(
        "        name: upgrade\n        upgrade: P0\n",
        "        name: upgrade\n",
        "after: 1h",
        "severities.P1.path.1",
        "a level needs notify, upgrade or both",
        id="level-doing-nothing",
    ),
    pytest.param(
        "        name: upgrade\n        upgrade: P0\n",
        "        name: upgrade\n        notify: []\n",
        "after: 1h",
        "severities.P1.path.1",
        "a level needs notify, upgrade or both",
        id="level-with-empty-notify",
    ),
    pytest.param(
        "upgrade: P0",
        "upgrade: P7",
        "upgrade: P7",
        "severities.P1.path.1.upgrade",
        "'P0', 'P1' or 'P2'",
        id="upgrade-to-no-severity",
    ),
    pytest.param(
        "pagerduty: lnn-service",
        "pagerduty: lnn-service=KEY",
        "lnn-service=KEY",
        "rotation.primary.pagerduty",
        "not a plain PagerDuty service name",
        id="pagerduty-service-not-plain",
    ),
    pytest.param(
        "email: oncall@example.com",
        "email: On Call <oncall@example.com>",
        "On Call",
        "rotation.primary.email",
        "is not an email address",
        id="member-email-not-an-address",
    ),
    pytest.param(
        "[U0000PRIMARY, W0000SECOND]",
        "[U0000PRIMARY, '@second']",
        "@second",
        "rotation.primary.slack.1",
        "is not a Slack id",
        id="member-slack-not-an-id",
    ),
    pytest.param(
        "  lead:\n",
        "  Lead:\n",
        "  Lead:",
        "rotation.Lead",
        "is not a rotation key",
        id="rotation-key-not-lowercase",
    ),
    pytest.param(
        "    response: 15m\n",
        "    response: 15m\n    response_minutes: 15\n",
        "response: 15m",
        "severities.P0.response",
        "not both",
        id="both-response-forms",
    ),
    pytest.param(
        "    name: High\n    response_minutes: 60\n",
        "    name: High\n",
        "  P1:",
        "severities.P1",
        "give a response target",
        id="no-response-target",
    ),
    pytest.param(
        "response: 4h",
        "response: 4h30s",
        "4h30s",
        "severities.P2.response",
        "4h30s is not whole minutes",
        id="response-not-whole-minutes",
    ),
    pytest.param(
        "response: 2h30m}",
        "response: 90s}",
        "90s",
        "rules.0.response",
        "not whole minutes",
        id="rule-response-not-whole-minutes",
    ),
    pytest.param(
        "response: 2h30m}",
        "response: 2h30m, response_minutes: 150}",
        "response_minutes: 150",
        "rules.0.response",
        "not both",
        id="rule-with-both-response-forms",
    ),
]


@pytest.mark.parametrize(("old", "new", "needle", "where", "fragment"), CHECKS)
def test_each_check_points_at_its_line(
    old: str, new: str, needle: str, where: str, fragment: str
) -> None:
    assert_reported(broken(old, new), needle, where, fragment)


def test_the_valid_policy_really_is_valid() -> None:
    # Otherwise every check above could pass on an unrelated problem.
    parse_policy(VALID)


def test_every_escalation_problem_is_reported_at_once() -> None:
    text = broken("{slack: lead}", "{slack: tertiary}").replace("after: 30m", "after: 10m")
    text = text.replace("upgrade: P0", "upgrade: P2")
    found = problems(text)
    assert [p.split(":")[0] for p in found] == [
        f"line {line_of(text, 'after: 10m')}",
        f"line {line_of(text, 'tertiary')}",
        f"line {line_of(text, 'upgrade: P2')}",
    ]
