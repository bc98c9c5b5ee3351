"""Maintenance windows as pure functions: which window covers an instant (UTC, and a window
written in a local zone across a daylight-saving change), the effect on a severity, and the
policy file's `maintenance` section with its errors and their lines."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.domain.incident import Severity
from bot.errors import PolicyError
from bot.policy.file import DEFAULT_POLICY, load_policy, parse_policy
from bot.policy.maintenance import (
    MaintenanceEffect,
    MaintenanceWindow,
    Occurrence,
    Recurrence,
    covering,
    parse_every,
)

SUNDAY, MONDAY, SATURDAY = 6, 0, 5


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def window(
    weekday: int,
    start: time,
    length: timedelta,
    *,
    zone: str = "UTC",
    nth: int | None = None,
    services: tuple[str, ...] = (),
) -> MaintenanceWindow:
    return MaintenanceWindow("w", Recurrence(weekday, start, zone, nth), length, services)


SUNDAYS_2AM = window(SUNDAY, time(2), timedelta(hours=2))


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (utc(2026, 11, 22, 1, 59, 59), False),
        (utc(2026, 11, 22, 2, 0), True),
        (utc(2026, 11, 22, 3, 59, 59), True),
        (utc(2026, 11, 22, 4, 0), False),  # the end is not inside
        (utc(2026, 11, 21, 2, 30), False),  # a Saturday
        (utc(2026, 11, 29, 2, 30), True),  # the next Sunday
    ],
)
def test_a_weekly_utc_window_covers_its_two_hours_every_sunday(at: datetime, inside: bool) -> None:
    found = covering([SUNDAYS_2AM], "lnn-service", at)
    assert (found is not None) is inside
    if found is not None:
        assert (found.starts_at.hour, found.ends_at - found.starts_at) == (2, timedelta(hours=2))
        assert found.starts_at.date() == at.date()


def test_a_window_that_crosses_midnight_covers_the_next_morning() -> None:
    late = window(SATURDAY, time(23), timedelta(hours=3))
    assert covering([late], "s", utc(2026, 11, 22, 1, 59)) is not None  # Sunday 01:59
    assert covering([late], "s", utc(2026, 11, 22, 2, 0)) is None
    assert covering([late], "s", utc(2026, 11, 21, 22, 59)) is None


def test_the_first_monday_of_the_month_is_the_monthly_one() -> None:
    monthly = window(MONDAY, time(3), timedelta(hours=2), nth=1)
    # December 2026 begins on a Tuesday: its first Monday is the 7th.
    assert covering([monthly], "s", utc(2026, 12, 7, 3, 30)) is not None
    assert covering([monthly], "s", utc(2026, 12, 14, 3, 30)) is None
    assert covering([monthly], "s", utc(2026, 11, 2, 3, 30)) is not None
    last = window(SUNDAY, time(2), timedelta(hours=1), nth=-1)
    assert covering([last], "s", utc(2026, 11, 29, 2, 30)) is not None
    assert covering([last], "s", utc(2026, 11, 22, 2, 30)) is None


def test_a_berlin_window_moves_in_utc_when_the_clocks_go_forward() -> None:
    # Sundays 03:00 Europe/Berlin: 02:00 UTC in winter (CET), 01:00 UTC from 29 March 2026.
    berlin = window(SUNDAY, time(3), timedelta(hours=1), zone="Europe/Berlin")
    before = covering([berlin], "s", utc(2026, 3, 22, 2, 30))
    assert before is not None
    assert before.starts_at == utc(2026, 3, 22, 2, 0)
    assert covering([berlin], "s", utc(2026, 3, 22, 1, 30)) is None
    after = covering([berlin], "s", utc(2026, 3, 29, 1, 30))
    assert after is not None
    assert after.starts_at == utc(2026, 3, 29, 1, 0)
    assert covering([berlin], "s", utc(2026, 3, 29, 2, 30)) is None
    # And back in October (the last Sunday, 25 October 2026, ends summer time).
    assert covering([berlin], "s", utc(2026, 10, 18, 1, 30)) is not None
    assert covering([berlin], "s", utc(2026, 11, 1, 2, 30)) is not None
    assert covering([berlin], "s", utc(2026, 11, 1, 1, 30)) is None


def test_a_start_in_the_spring_gap_is_read_with_the_winter_offset() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 CET becomes 03:00 CEST); the
    # window starts when the clock would have shown it: 01:30 UTC, and lasts its length.
    gap = window(SUNDAY, time(2, 30), timedelta(hours=1), zone="Europe/Berlin")
    found = covering([gap], "s", utc(2026, 3, 29, 2, 0))
    assert found is not None
    assert (found.starts_at, found.ends_at) == (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30))


def test_the_next_occurrence_is_the_first_start_after_the_instant() -> None:
    following = SUNDAYS_2AM.next_after(utc(2026, 11, 22, 2, 0))  # running, not next
    assert following is not None
    assert (following.starts_at, following.ends_at) == (
        utc(2026, 11, 29, 2, 0),
        utc(2026, 11, 29, 4, 0),
    )
    first_monday = window(MONDAY, time(3), timedelta(hours=1), nth=1)
    monthly = first_monday.next_after(utc(2026, 11, 3, 0, 0))
    assert monthly is not None
    assert monthly.starts_at == utc(2026, 12, 7, 3, 0)
    # In a local zone: Berlin's 02:00 is 01:00 UTC in winter.
    berlin = window(SUNDAY, time(2), timedelta(hours=2), zone="Europe/Berlin")
    local = berlin.next_after(utc(2026, 11, 23, 12, 0))
    assert local is not None
    assert local.starts_at == utc(2026, 11, 29, 1, 0)


def test_services_limit_a_window_and_ad_hoc_windows_come_first() -> None:
    only_lnn = window(SUNDAY, time(2), timedelta(hours=2), services=("lnn-service",))
    at = utc(2026, 11, 22, 2, 30)
    assert covering([only_lnn], "lnn-service", at) is not None
    assert covering([only_lnn], "firebreak", at) is None
    ad_hoc = Occurrence("ad hoc", at - timedelta(minutes=5), at + timedelta(hours=1), ad_hoc=7)
    found = covering([only_lnn], "lnn-service", at, [ad_hoc])
    assert found is not None
    assert found.ad_hoc == 7
    assert covering([], "anything", at + timedelta(hours=1), [ad_hoc]) is None


def test_the_effect_holds_below_p0_and_never_raises() -> None:
    effect = MaintenanceEffect()
    assert [effect.severity_for(s) for s in Severity] == [Severity.P0, Severity.P2, Severity.P2]
    strict = MaintenanceEffect(Severity.P1, keep=())
    assert [strict.severity_for(s) for s in Severity] == [Severity.P1, Severity.P1, Severity.P2]


def test_recurrences_are_read_as_written() -> None:
    assert parse_every("sunday") == (SUNDAY, None)
    assert parse_every("First Monday") == (MONDAY, 1)
    assert parse_every("last sunday") == (SUNDAY, -1)
    with pytest.raises(ValueError, match="not a recurrence"):
        parse_every("every other sunday")


def test_the_shipped_policies_hold_their_runbooks_windows() -> None:
    default = load_policy(DEFAULT_POLICY)
    [weekly] = default.maintenance
    assert weekly.recurrence.describe() == "Sundays 02:00 UTC"
    assert weekly.services == ("lnn-service",)
    litert = load_policy(DEFAULT_POLICY.parent / "examples" / "litert.yaml")  # type: ignore[attr-defined]
    assert [w.recurrence.describe() for w in litert.maintenance] == [
        "Mondays 02:00 UTC",
        "the first Monday of the month 03:00 UTC",
    ]


BAD = """
maintenance:
  - name: weekly
    every: sunday
    at: 2:00
    length: 2h
  - name: weekly
    every: every other sunday
    at: '02:00'
    zone: Europe/Atlantis
    length: 9d
    keep: [P3]
"""


def test_policy_check_reports_every_window_problem_with_its_line() -> None:
    text = DEFAULT_POLICY.read_text().replace("\nmaintenance:\n", "\nold_maintenance_gone:\n")
    # Drop the shipped section, then append a bad one: its lines are counted from the end.
    start = text.index("\nold_maintenance_gone:\n")
    end = text.index("\nrules:\n")
    text = text[:start] + text[end:]
    first = text.count("\n") + 1
    with pytest.raises(PolicyError) as caught:
        parse_policy(text + BAD)
    problems = [p for p in caught.value.problems if "maintenance" in p]
    lines = {int(p.split(":")[0].removeprefix("line ")) - first for p in problems}
    joined = "\n".join(problems)
    assert "quote the time" in joined
    assert "duplicate window name 'weekly'" in joined
    assert "not a recurrence" in joined
    assert "not a time zone" in joined
    assert "longer than 7d" in joined
    assert "maintenance.1.keep.0: Input should be 'P0', 'P1' or 'P2'" in joined
    # at (line 4 of BAD), name (6), every (7), zone (9), length (10), keep (11).
    assert lines == {4, 6, 7, 9, 10, 11}, problems
