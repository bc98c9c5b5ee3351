"""Alertmanager matcher semantics of ``bot.policy.model.Matcher``: the four operators, anchored
regular expressions, missing labels as "", and Alertmanager's quoting rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.policy.model import Matcher, MatchOp

# Label values as Alertmanager sees them: any text, including quotes, backslashes, newlines.
label_values = st.text(max_size=40)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)


def quote(value: str) -> str:
    """Quote a value the way an Alertmanager matcher string writes it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('alertname="LNNServiceDown"', "alertname", MatchOp.EQ, "LNNServiceDown"),
        ('severity!="info"', "severity", MatchOp.NE, "info"),
        ('alertname=~"LNN.*"', "alertname", MatchOp.RE, "LNN.*"),
        ('env!~"dev|staging"', "env", MatchOp.NRE, "dev|staging"),
        # Quotes are optional and whitespace around the parts is ignored.
        ("severity=critical", "severity", MatchOp.EQ, "critical"),
        ('  job  =~  "api"  ', "job", MatchOp.RE, "api"),
        # An empty quoted value is allowed: it selects alerts without the label.
        ('team=""', "team", MatchOp.EQ, ""),
        # The operator is the first one found: `a==b` means a = "=b".
        ("a==b", "a", MatchOp.EQ, "=b"),
    ],
)
def test_parse_reads_name_operator_and_value(text: str, name: str, op: MatchOp, value: str) -> None:
    m = Matcher.parse(text)
    assert (m.name, m.op, m.value) == (name, op, value)


def test_equal_and_not_equal_compare_the_whole_value() -> None:
    eq = Matcher.parse('severity="critical"')
    ne = Matcher.parse('severity!="critical"')
    assert eq.matches({"severity": "critical"})
    assert not eq.matches({"severity": "critical2"})
    assert not eq.matches({"severity": "Critical"})
    assert not ne.matches({"severity": "critical"})
    assert ne.matches({"severity": "warning"})


def test_regex_is_anchored_at_both_ends() -> None:
    m = Matcher.parse('alertname=~"Down"')
    assert m.matches({"alertname": "Down"})
    # Alertmanager anchors regexes: a substring match is not a match.
    assert not m.matches({"alertname": "LNNServiceDown"})
    assert not m.matches({"alertname": "Downtime"})
    assert Matcher.parse('alertname=~".*Down"').matches({"alertname": "LNNServiceDown"})


def test_regex_alternation_is_anchored_as_a_whole() -> None:
    # Without the group around the pattern, `^a|b$` would match "ab..." and "...b".
    m = Matcher.parse('x=~"a|b"')
    assert m.matches({"x": "a"})
    assert m.matches({"x": "b"})
    assert not m.matches({"x": "ab"})
    assert not m.matches({"x": "xb"})


def test_regex_does_not_match_before_a_trailing_newline() -> None:
    # Python's `$` matches before a final "\n"; Alertmanager's anchors do not.
    assert not Matcher.parse('x=~"abc"').matches({"x": "abc\n"})
    assert Matcher.parse('x!~"abc"').matches({"x": "abc\n"})


def test_negative_regex_is_the_complement() -> None:
    m = Matcher.parse('env!~"dev|staging"')
    assert not m.matches({"env": "dev"})
    assert m.matches({"env": "production"})
    assert m.matches({"env": "devx"})


def test_missing_label_matches_as_the_empty_string() -> None:
    assert Matcher.parse('team=""').matches({})
    assert not Matcher.parse('team!=""').matches({})
    assert Matcher.parse('team!="sre"').matches({})
    assert Matcher.parse('team=~"|sre"').matches({})
    assert not Matcher.parse('team=~".+"').matches({})
    assert Matcher.parse('team!~".+"').matches({})
    assert not Matcher.parse('team="sre"').matches({})


def test_escapes_in_quoted_values() -> None:
    assert Matcher.parse(r'msg="say \"hi\""').value == 'say "hi"'
    assert Matcher.parse(r'path="C:\\temp"').value == "C:\\temp"
    assert Matcher.parse(r'msg="two\nlines"').value == "two\nlines"
    assert Matcher.parse(r"msg='it\'s'").value == "it's"


def test_unknown_escapes_keep_their_backslash_so_regex_escapes_work() -> None:
    m = Matcher.parse(r'instance=~"api\.example\.com"')
    assert m.value == r"api\.example\.com"
    assert m.matches({"instance": "api.example.com"})
    # If `\.` had lost its backslash, the dot would match any character.
    assert not m.matches({"instance": "apiXexample.com"})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "severity",
        '"severity"="critical"',
        "=critical",
        "1abc=x",
        "sev-erity=critical",
        "severity~=critical",
        'severity="critical',
        'severity="critical\\"',
        'severity="crit"ical"',
        'severity=crit"ical',
        'severity="',
    ],
)
def test_bad_syntax_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"matcher|quote|unescaped|unterminated"):
        Matcher.parse(text)


@pytest.mark.parametrize("regex", ["(", "[a-", "*x", "a{2,1}"])
def test_bad_regex_raises_value_error(regex: str) -> None:
    with pytest.raises(ValueError, match="bad regular expression"):
        Matcher.parse(f'alertname=~"{regex}"')


def test_bad_regex_is_an_error_for_the_negative_operator_too() -> None:
    with pytest.raises(ValueError, match="bad regular expression"):
        Matcher.parse('alertname!~"("')


def test_str_writes_the_alertmanager_form() -> None:
    assert str(Matcher.parse("severity=critical")) == 'severity="critical"'
    assert str(Matcher.parse(r'msg="a\"b"')) == r'msg="a\"b"'


@given(name=label_names, value=label_values, other=label_values)
def test_equal_matches_exactly_its_value(name: str, value: str, other: str) -> None:
    m = Matcher.parse(f"{name}={quote(value)}")
    assert m.value == value
    assert m.matches({name: value})
    assert m.matches({name: other}) == (other == value)
    # `!=` is always the opposite answer.
    ne = Matcher.parse(f"{name}!={quote(value)}")
    assert ne.matches({name: other}) != m.matches({name: other})


@given(value=label_values)
def test_escaped_literal_regex_matches_only_that_value(value: str) -> None:
    m = Matcher.parse(f"x=~{quote(re.escape(value))}")
    assert m.matches({"x": value})
    assert not m.matches({"x": value + "a"})
    assert not m.matches({"x": value + "\n"})


@given(name=label_names, op=st.sampled_from(list(MatchOp)), value=label_values)
def test_str_round_trips_through_parse(name: str, op: MatchOp, value: str) -> None:
    original = Matcher(name=name, op=op, value=value)
    if op in (MatchOp.RE, MatchOp.NRE):
        # Only literal regexes: arbitrary text is rarely a valid pattern.
        original = Matcher(name=name, op=op, value=re.escape(value))
    assert Matcher.parse(str(original)) == original
