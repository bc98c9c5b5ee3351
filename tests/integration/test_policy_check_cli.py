"""``firebreak policy check FILE`` as a user runs it: exit status, and one
``FILE:LINE: where: what`` line on stderr per problem, pointing at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import PolicyError
from bot.policy.file import load_policy, parse_policy
from tests.support.policy_cli import Result, check

# A small valid policy; each test breaks one thing in it by replacing a unique snippet.
VALID = """\
version: 1
name: test policy
severities:
  P0:
    name: Critical
    response_minutes: 15
  P1:
    name: High
    response_minutes: 60
  P2:
    name: Low
    response_minutes: 240
scenarios:
  down:
    title: Down
    actions:
      - verb: scale
        deployment: api
        namespace: production
        replicas: 5
        bounds: {min: 3, max: 10}
rules:
  - name: down
    match:
      - 'alertname="Down"'
    severity: P0
    scenario: down
  - name: pd
    pagerduty: {priority: P1}
    severity: P0
    scenario: down
default:
  severity: P2
  scenario: down
"""


def check_text(tmp_path: Path, text: str) -> Result:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return check(path)


def broken(old: str, new: str) -> str:
    assert VALID.count(old) == 1, f"snippet {old!r} must be unique in VALID"
    return VALID.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the one line containing ``needle``."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def problem_lines(result: Result) -> list[str]:
    """The per-problem lines (the first stderr line is the count)."""
    return [line for line in result.stderr if line.startswith(f"{result.path}:")][1:]


def assert_reported(result: Result, line: int, where: str, fragment: str) -> None:
    assert result.code == 1, result
    prefix = f"{result.path}:{line}: {where}: "
    hits = [p for p in problem_lines(result) if p.startswith(prefix) and fragment in p]
    assert hits, f"no problem {prefix}...{fragment}... in:\n" + "\n".join(result.stderr)


def test_valid_policy_passes(tmp_path: Path) -> None:
    result = check_text(tmp_path, VALID)
    assert result.code == 0, result.stderr
    assert result.stdout == (
        f"{result.path}: ok: 'test policy', 2 rules, 1 scenarios,"
        " 0 on-call rotation members, 0 escalation levels\n"
    )
    assert result.stderr == []


# VALID with a rotation and a P0 escalation path (issue 16).
WITH_PATH = VALID.replace(
    "severities:\n  P0:\n    name: Critical\n    response_minutes: 15\n",
    """rotation:
  primary:
    email: oncall@example.com
    slack: [U0000PRIMARY]
  lead:
    slack: [U0000LEAD]
severities:
  P0:
    name: Critical
    response: 15m
    path:
      - after: 0
        notify: [{page: primary}, {slack: primary}]
      - after: 15m
        notify: [{slack: lead}]
""",
)


def test_a_policy_with_an_escalation_path_passes(tmp_path: Path) -> None:
    assert WITH_PATH != VALID
    result = check_text(tmp_path, WITH_PATH)
    assert result.code == 0, result.stderr
    assert result.stdout.endswith(", 2 on-call rotation members, 2 escalation levels\n")


@pytest.mark.parametrize(
    ("old", "new", "needle", "where", "fragment"),
    [
        pytest.param(
            "{slack: lead}",
            "{slack: deputy}",
            "deputy",
            "severities.P0.path.1.notify.0.slack",
            "unknown rotation member 'deputy'",
            id="unknown-member",
        ),
        pytest.param(
            "{slack: lead}",
            "{email: lead}",
            "{email: lead}",
            "severities.P0.path.1.notify.0.email",
            "has no email",
            id="unreachable-channel",
        ),
        pytest.param(
            "after: 15m",
            "after: 0s",
            "after: 0s",
            "severities.P0.path.1.after",
            "delays must increase",
            id="delays-out-of-order",
        ),
    ],
)
def test_an_escalation_problem_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, needle: str, where: str, fragment: str
) -> None:
    assert WITH_PATH.count(old) == 1
    text = WITH_PATH.replace(old, new)
    assert_reported(check_text(tmp_path, text), line_of(text, needle), where, fragment)


def test_unclosed_flow_mapping_is_bad_yaml_with_a_line(tmp_path: Path) -> None:
    text = broken("{min: 3, max: 10}", "{min: 3, max: 10")
    result = check_text(tmp_path, text)
    assert result.code == 1
    [problem] = problem_lines(result)
    # PyYAML notices at the next token, which is on the following line.
    assert problem.startswith(f"{result.path}:{line_of(text, 'max: 10') + 1}: (yaml): ")


# One broken snippet each: (replace this, with this, the line holding this, where, what).
BROKEN = [
    pytest.param(
        "    title: Down\n",
        "    title: Down: again\n",
        "Down: again",
        "(yaml)",
        "not valid YAML",
        id="bad-yaml",
    ),
    pytest.param(
        "    severity: P0\n    scenario: down\n  - name: pd",
        "    severity: P5\n    scenario: down\n  - name: pd",
        "severity: P5",
        "rules.0.severity",
        "'P0', 'P1' or 'P2'",
        id="unknown-severity",
    ),
    pytest.param(
        "    name: Low\n    response_minutes: 240\n",
        "    name: Low\n    response_minutes: 240\n  P3:\n    name: Lower\n    response_minutes: 999\n",
        "P3:",
        "severities.P3",
        "'P0', 'P1' or 'P2'",
        id="unknown-severity-level-key",
    ),
    pytest.param(
        "    severity: P0\n    scenario: down\n  - name: pd",
        "    severity: P0\n    scenario: up\n  - name: pd",
        "scenario: up",
        "rules.0.scenario",
        "unknown scenario 'up'",
        id="unknown-scenario-in-a-rule",
    ),
    pytest.param(
        "  severity: P2\n  scenario: down\n",
        "  severity: P2\n  scenario: sideways\n",
        "sideways",
        "default.scenario",
        "unknown scenario",
        id="unknown-scenario-in-the-default",
    ),
    # The item's own line, not the `match:` line above it.
    pytest.param(
        """'alertname="Down"'""",
        "'alertname'",
        "'alertname'",
        "rules.0.match.0",
        "not a matcher",
        id="bad-matcher",
    ),
    pytest.param(
        """'alertname="Down"'""",
        """'alertname=~"(Down"'""",
        "(Down",
        "rules.0.match.0",
        "bad regular expression",
        id="bad-regex",
    ),
    pytest.param(
        "    title: Down\n",
        "    title: Down\n    title: Again\n",
        "title: Again",
        "scenarios.down.title",
        "duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        "        replicas: 5\n        bounds: {min: 3, max: 10}\n",
        "",
        "verb: scale",
        "scenarios.down.actions.0",
        "needs bounds",
        id="scale-without-bounds",
    ),
    pytest.param(
        "replicas: 5",
        "replicas: 12",
        "replicas: 12",
        "scenarios.down.actions.0.replicas",
        "outside bounds 3-10",
        id="replicas-outside-bounds",
    ),
    pytest.param(
        "{min: 3, max: 10}",
        "{min: 10, max: 3}",
        "bounds:",
        "scenarios.down.actions.0.bounds",
        "above max",
        id="bounds-in-the-wrong-order",
    ),
    *(
        pytest.param(
            "namespace: production",
            f"namespace: {namespace}",
            namespace,
            "scenarios.down.actions.0.namespace",
            "never allowed",
            id=f"{namespace}-namespace",
        )
        for namespace in ("kube-system", "kube-public")
    ),
    *(
        pytest.param(
            "deployment: api",
            f"deployment: {name}",
            "deployment:",
            "scenarios.down.actions.0.deployment",
            "DNS-1123",
            id=f"bad-dns-name-{name}",
        )
        for name in ("Api", "api_v2", "-api", "api-", "a" * 64, "api..v2")
    ),
    # The `severities:` key line, not the first level below it.
    pytest.param(
        "  P1:\n    name: High\n    response_minutes: 60\n",
        "",
        "severities:",
        "severities",
        "P1 is not defined",
        id="missing-severity-level",
    ),
    pytest.param(
        "    pagerduty: {priority: P1}\n",
        "    pagerduty: {priority: P1}\n    match: ['a=b']\n",
        "name: pd",
        "rules.1",
        "not both",
        id="rule-with-both-match-and-pagerduty",
    ),
    pytest.param(
        "    pagerduty: {priority: P1}\n",
        "",
        "name: pd",
        "rules.1",
        "needs 'match'",
        id="rule-with-neither-match-nor-pagerduty",
    ),
    pytest.param(
        "    title: Down\n",
        "",
        "  down:",
        "scenarios.down.title",
        "Field required",
        id="missing-field-points-at-its-parent",
    ),
]


@pytest.mark.parametrize(("old", "new", "needle", "where", "fragment"), BROKEN)
def test_a_broken_policy_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, needle: str, where: str, fragment: str
) -> None:
    text = broken(old, new)
    result = check_text(tmp_path, text)
    assert_reported(result, line_of(text, needle), where, fragment)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 63, id="longest-dns-name"),
        # Kubernetes names Deployments with DNS-1123 subdomains; the policy agrees with Slack
        # and the actuator (it used to refuse the dots as a DNS label would).
        pytest.param("api.v2", id="dns-subdomain"),
    ],
)
def test_deployment_names_that_are_accepted(tmp_path: Path, name: str) -> None:
    text = broken("deployment: api", f"deployment: {name}")
    assert check_text(tmp_path, text).code == 0


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("# a comment\n- just\n- a list\n", 2, id="a-list"),
        pytest.param("", 1, id="empty"),
    ],
)
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, line: int) -> None:
    result = check_text(tmp_path, text)
    assert_reported(result, line, "(top level)", "must be a YAML mapping")


def test_cross_references_are_reported_with_schema_errors(tmp_path: Path) -> None:
    # A schema error (unknown severity) must not hide the unknown scenario or the bad matcher.
    text = broken(
        """      - 'alertname="Down"'\n    severity: P0\n    scenario: down\n""",
        """      - 'alertname=~"("'\n    severity: P9\n    scenario: nowhere\n""",
    )
    result = check_text(tmp_path, text)
    assert_reported(result, line_of(text, "P9"), "rules.0.severity", "'P0', 'P1' or 'P2'")
    assert_reported(result, line_of(text, "nowhere"), "rules.0.scenario", "unknown scenario")
    assert_reported(result, line_of(text, 'alertname=~"("'), "rules.0.match.0", "bad regular")
    assert result.stderr[0] == f"{result.path}: 3 problem(s)"


def test_problems_are_listed_in_line_order(tmp_path: Path) -> None:
    # Found in different passes (cross-check first, schema last) but reported top to bottom.
    text = broken("  severity: P2\n  scenario: down\n", "  severity: P2\n  scenario: gone\n")
    text = text.replace("namespace: production", "namespace: kube-system")
    text = text.replace("    title: Down\n", "    title: Down\n    title: Again\n")
    result = check_text(tmp_path, text)
    lines = [int(p.split(":")[1]) for p in problem_lines(result)]
    assert lines == [
        line_of(text, "title: Again"),
        line_of(text, "kube-system"),
        line_of(text, "scenario: gone"),
    ]


def test_missing_file(tmp_path: Path) -> None:
    result = check(tmp_path / "absent.yaml")
    assert_reported(result, 1, "(file)", "cannot read")


def test_not_utf8_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("name: Critical", "name: Crítico").encode("latin-1"))
    result = check(path)
    assert_reported(result, line_of(VALID, "name: Critical"), "(file)", "not UTF-8")


def test_recursive_alias_does_not_hang() -> None:
    # An alias to an enclosing node makes the YAML graph cyclic; the checker must still end.
    with pytest.raises(PolicyError) as info:
        parse_policy(VALID + "extra: &loop [*loop]\n")
    assert any("extra" in p for p in info.value.problems)


def test_load_policy_error_carries_source_and_problems(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(broken("replicas: 5", "replicas: 11"), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.source == str(path)
    assert info.value.problems == [
        f"line {line_of(VALID, 'replicas: 5')}: scenarios.down.actions.0.replicas: "
        "replicas 11 is outside bounds 3-10"
    ]


@pytest.mark.parametrize(
    ("storm", "needle", "where", "fragment"),
    [
        ("{threshold: -2}", "threshold: -2", "noise.storm.threshold", "greater than or equal to 0"),
        ("{window: 0s}", "window: 0s", "noise.storm.window", "longer than zero"),
        ("{by: pod}", "by: pod", "noise.storm.by", "service"),
        ("{threshold: 5, burst: 3}", "burst: 3", "noise.storm.burst", "not permitted"),
    ],
)
def test_a_storm_section_problem_is_reported_at_its_line(
    tmp_path: Path, storm: str, needle: str, where: str, fragment: str
) -> None:
    text = VALID + f"noise:\n  storm: {storm}\n"
    result = check_text(tmp_path, text)
    assert_reported(result, line_of(text, needle), where, fragment)


def test_a_storm_section_passes_the_check(tmp_path: Path) -> None:
    text = VALID + "noise:\n  storm: {threshold: 10, window: 5m, by: namespace}\n"
    assert check_text(tmp_path, text).code == 0
