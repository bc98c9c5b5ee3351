"""``/incident maintenance`` parsed: the schedule, ``start [DURATION] [SERVICE] [--reason]``
and ``end [SERVICE]``, and the usage errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import UsageError
from handlers.slack.command import commands as cmd
from handlers.slack.command.parse import HELP_TEXT, parse_command


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("maintenance", cmd.MaintenanceList()),
        ("maintenance start", cmd.MaintenanceStart()),
        ("maintenance START 90m", cmd.MaintenanceStart(timedelta(minutes=90))),
        ("maintenance start lnn-service", cmd.MaintenanceStart(None, "lnn-service")),
        (
            "maintenance start 2h lnn-service",
            cmd.MaintenanceStart(timedelta(hours=2), "lnn-service"),
        ),
        (
            'maintenance start "api gateway" --reason "db failover"',
            cmd.MaintenanceStart(None, "api gateway", "db failover"),
        ),
        # A quoted duration-like word is a service name.
        ('maintenance start "1h"', cmd.MaintenanceStart(None, "1h")),
        ("maintenance end", cmd.MaintenanceEnd()),
        ("maintenance end lnn-service", cmd.MaintenanceEnd("lnn-service")),
    ],
)
def test_maintenance_commands_parse(text: str, command: cmd.Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("maintenance pause", "`pause` is neither `start` nor `end`."),
        ("maintenance start lnn 2h", "Give one service"),
        ("maintenance start 1h --until 3h", "Unknown option `--until`."),
        ("maintenance end a b", "Give one service"),
        ('maintenance end "  "', "The service name is empty."),
    ],
)
def test_bad_maintenance_commands_name_the_problem_and_the_usage(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_command(text)
    message = str(raised.value)
    assert message.startswith(problem)
    assert "Usage: /incident maintenance [start [DURATION] [SERVICE]" in message


def test_help_lists_maintenance() -> None:
    assert "`/incident maintenance [start [DURATION] [SERVICE]" in HELP_TEXT
