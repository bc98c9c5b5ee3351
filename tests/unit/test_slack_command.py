"""``/incident`` parsing: every subcommand, every error, quoting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.incident import ID_MAX, Severity
from bot.errors import BadRequest, NotFound, UsageError
from handlers.slack.command.commands import Merge, Split
from handlers.slack.command.parse import (
    HELP_TEXT,
    USAGE,
    Ack,
    Command,
    Declare,
    Diagnose,
    Help,
    ListIncidents,
    Note,
    Postmortem,
    Resolve,
    Restart,
    Rollback,
    Scale,
    SetCommander,
    SetSeverity,
    Show,
    Timeline,
    parse_command,
    usage,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Help(None)),
        ("   ", Help(None)),
        ("help", Help(None)),
        ("HELP scale", Help("scale")),
        ("list", ListIncidents("open")),
        ("list open", ListIncidents("open")),
        ("list ALL", ListIncidents("all")),
        ("show 42", Show(42)),
        ("show #42", Show(42)),
        ("show INC-42", Show(42)),
        ("show inc42", Show(42)),
        ("declare LNN is down", Declare("LNN is down")),
        ('declare "LNN is down" --severity P0', Declare("LNN is down", severity=Severity.P0)),
        (
            "declare checkout can't pay --severity=p1 --service checkout",
            Declare("checkout can't pay", severity=Severity.P1, service="checkout"),
        ),
        ("declare “smart quotes” title -s P2", Declare("smart quotes title", severity=Severity.P2)),
        (
            'declare --service="api gateway" Gateway 5xx',
            Declare("Gateway 5xx", service="api gateway"),
        ),
        ('declare "--severity is in the title"', Declare("--severity is in the title")),
        ("declare -- --not-an-option", Declare("--not-an-option")),
        ("declare throughput -5%", Declare("throughput -5%")),
        ("ack", Ack(None)),
        ("ack #7", Ack(7)),
        ("resolve", Resolve(None, "")),
        ("resolve 7", Resolve(7, "")),
        ("resolve INC-7 rolled back  to v3", Resolve(7, "rolled back  to v3")),
        ("resolve rolled back", Resolve(None, "rolled back")),
        ('resolve 7 "fixed"', Resolve(7, "fixed")),
        ("severity p0", SetSeverity(Severity.P0, None)),
        ("severity P2 #9", SetSeverity(Severity.P2, 9)),
        ("commander <@U0123ABC|alice>", SetCommander("U0123ABC", None)),
        ("commander <@W0123ABC> 12", SetCommander("W0123ABC", 12)),
        ("commander U0123ABC", SetCommander("U0123ABC", None)),
        ("note p99 is 180ms, <@U1> is looking", Note("p99 is 180ms, <@U1> is looking")),
        ("note 3 pods restarted", Note("3 pods restarted")),
        ("note #5 it's the cache", Note("it's the cache", incident_id=5)),
        # Free text never fails on quotes: an unclosed one is kept as typed.
        ('note "unbalanced is fine', Note('"unbalanced is fine')),
        ('note "quoted note"', Note("quoted note")),
        ("resolve 'it was DNS", Resolve(None, "'it was DNS")),
        ("timeline", Timeline(None)),
        ("timeline 3", Timeline(3)),
        ("postmortem", Postmortem(None)),
        ("postmortem #3", Postmortem(3)),
        ("scale deploy/lnn-service 6", Scale("lnn-service", 6)),
        ("scale deployment/lnn-service 6 -n production", Scale("lnn-service", 6, "production")),
        (
            "scale -nproduction deployments.apps/lnn-service 0",
            Scale("lnn-service", 0, "production"),
        ),
        ("scale deploy/lnn.v2 10 --namespace=prod", Scale("lnn.v2", 10, "prod")),
        ("rollback deploy/lnn-service", Rollback("lnn-service")),
        (
            "rollback deploy/lnn-service --to-revision 3 -n prod",
            Rollback("lnn-service", "prod", 3),
        ),
        ("rollback deploy/lnn-service --to-revision=0", Rollback("lnn-service")),
        ("restart deploy/lnn-service", Restart("lnn-service")),
        ("restart deploy/lnn-service -n prod", Restart("lnn-service", "prod")),
        ("diagnose deploy/lnn-service", Diagnose("lnn-service")),
        ("DIAGNOSE Deploy/lnn-service -n prod", Diagnose("lnn-service", "prod")),
    ],
)
def test_parses(text: str, command: Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    "text", ["show {}", "ack #{}", "resolve {} fixed", "note INC-{} x", "merge {}", "timeline {}"]
)
def test_an_id_past_the_largest_is_no_incident(text: str) -> None:
    assert parse_command(text.format(ID_MAX)) is not None
    with pytest.raises(NotFound, match=f"there is no incident #{ID_MAX + 1}$"):
        parse_command(text.format(ID_MAX + 1))


@pytest.mark.parametrize(
    ("text", "sub", "problem"),
    [
        ("help nope", "help", "no subcommand `nope`"),
        ("help a b", "help", "Too many arguments"),
        ("list some", "list", "`open` or `all`"),
        ("list open all", "list", "`open` or `all`"),
        ("show", "show", "one incident id"),
        ("show abc", "show", "not an incident id"),
        ("show 0", "show", "not an incident id"),
        ("show 1 2", "show", "one incident id"),
        ("declare", "declare", "title"),
        ("declare --severity P1", "declare", "title"),
        ("declare x --severity P5", "declare", "not a severity"),
        ("declare x --severity", "declare", "needs a value"),
        ("declare x --severity=", "declare", "needs a value"),
        ("declare x --sev P1", "declare", "Unknown option `--sev`"),
        ("declare x -s P1 -s P2", "declare", "given twice"),
        ('declare "unterminated title', "declare", "quote is not closed"),
        ("declare 'unterminated", "declare", "quote is not closed"),
        ('declare --service "a b', "declare", "quote is not closed"),
        ("declare " + "t" * 300, "declare", "too long"),
        ("ack x", "ack", "not an incident id"),
        ("ack 1 2", "ack", "Too many arguments"),
        ("severity", "severity", "Give a severity"),
        ("severity high", "severity", "not a severity"),
        ("severity P1 abc", "severity", "not an incident id"),
        ("severity P1 1 2", "severity", "Give a severity"),
        ("commander", "commander", "Mention one person"),
        ("commander @alice", "commander", "not a Slack user"),
        ("commander <#C123|general>", "commander", "not a Slack user"),
        ("commander <!channel>", "commander", "not a Slack user"),
        ("commander <@U0123ABC> x", "commander", "not an incident id"),
        ("note", "note", "Write the note"),
        ("note #4", "note", "Write the note"),
        ('note ""', "note", "Write the note"),
        ("timeline x", "timeline", "not an incident id"),
        ("postmortem 1 2", "postmortem", "Too many arguments"),
        ("scale", "scale", "Wrong number of arguments"),
        ("scale deploy/x", "scale", "Wrong number of arguments"),
        ("scale lnn-service 3", "scale", "not a deployment"),
        ("scale pod/lnn-0 3", "scale", "not a deployment"),
        ("scale deploy/ 3", "scale", "not a valid deployment name"),
        ("scale deploy/LNN 3", "scale", "not a valid deployment name"),
        ("scale deploy/-x 3", "scale", "not a valid deployment name"),
        ("scale deploy/x -3", "scale", "not a valid replica count"),
        ("scale deploy/x three", "scale", "not a valid replica count"),
        ("scale deploy/x 1.5", "scale", "not a valid replica count"),
        ("scale deploy/x 99999999", "scale", "not a valid replica count"),
        ("scale deploy/x ٣", "scale", "not a valid replica count"),
        ("scale deploy/x 3 -n", "scale", "needs a value"),
        ("scale deploy/x 3 -n Prod_1", "scale", "not a valid namespace"),
        ("scale deploy/x 3 -n " + "a" * 64, "scale", "not a valid namespace"),
        ("scale deploy/x 3 --replicas 4", "scale", "Unknown option"),
        ("rollback deploy/x --to-revision last", "rollback", "not a valid revision"),
        ("rollback deploy/x deploy/y", "rollback", "Wrong number of arguments"),
        ("restart", "restart", "Wrong number of arguments"),
        ("restart deploy/x --to-revision 2", "restart", "Unknown option"),
        ("diagnose deploy/x extra", "diagnose", "Wrong number of arguments"),
    ],
)
def test_errors_name_the_problem_and_show_the_usage(text: str, sub: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_command(text)
    message = str(info.value)
    assert problem in message
    assert message.endswith(usage(sub))
    assert USAGE[sub] in message


def test_usage_error_is_a_bad_request() -> None:
    assert issubclass(UsageError, BadRequest)


def test_unknown_subcommand_shows_the_whole_help() -> None:
    with pytest.raises(UsageError) as info:
        parse_command("frobnicate now")
    assert "Unknown subcommand `frobnicate`" in str(info.value)
    assert str(info.value).endswith(HELP_TEXT)


def test_help_lists_every_subcommand() -> None:
    for sub in USAGE:
        assert f"`/incident {sub}" in HELP_TEXT
    for example in ("deploy/NAME REPLICAS", "--to-revision N", "--severity P0|P1|P2", "[open|all]"):
        assert example in HELP_TEXT


def test_overlong_input_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="too long"):
        parse_command("note " + "x" * 10_000)


def test_nbsp_and_typographic_apostrophes_are_plain_text() -> None:
    assert parse_command("declare\u00a0it’s down") == Declare("it's down")


def parse_or_error(text: str) -> Command | UsageError:
    try:
        return parse_command(text)
    except UsageError as exc:
        return exc


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    result = parse_or_error(text)
    assert str(result) if isinstance(result, UsageError) else isinstance(result, Command)


@given(
    st.sampled_from(sorted(USAGE)),
    st.lists(st.text(alphabet="ab 1#-\"'=/<>@|\\", max_size=8), max_size=6),
)
def test_any_arguments_to_any_subcommand_parse_or_are_a_usage_error(
    sub: str, args: list[str]
) -> None:
    result = parse_or_error(" ".join([sub, *args]))
    if isinstance(result, UsageError):
        assert str(result).endswith(usage(sub))
    else:
        assert isinstance(result, Command)


def test_split_takes_one_group_and_merge_one_incident_id() -> None:
    assert parse_command("split 3") == Split("3")
    assert parse_command('split {}:{group="g1"}') == Split('{}:{group="g1"}')
    assert parse_command("merge #42") == Merge(42)
    assert parse_command("merge INC-7") == Merge(7)
    assert parse_command('split {}:{a="x", b="y"}') == Split('{}:{a="x", b="y"}')
    for bad in ("split", "split   ", "merge", "merge 1 2", "merge abc"):
        with pytest.raises(UsageError):
            parse_command(bad)
    assert "/incident split GROUP" in HELP_TEXT
    assert "/incident merge ID" in HELP_TEXT
