"""Maintenance windows: when alerts are expected, and what the policy does to them then.

A recurring window starts at a wall-clock time on a weekday, every week (``sunday``) or on
one weekday of the month (``first monday``, ``last sunday``), in a time zone (UTC unless the
file says otherwise), and lasts ``length`` of real time: a window written in a local zone
follows that zone's daylight-saving changes. An ad-hoc window (``/incident maintenance
start``) is an ``Occurrence`` with its own start and end. Stdlib only (``zoneinfo``);
``bot.policy.file`` reads and checks the YAML.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.incident import Severity

WEEKDAYS = tuple(name.lower() for name in calendar.day_name)  # monday first, as date.weekday()
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
# Long enough for any maintenance, short enough that two occurrences of a weekly window
# never overlap (and the search for the one covering an instant stays a few days).
LONGEST = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When a window starts: ``weekday`` (0 is Monday) at ``start`` in ``zone``; every week
    when ``nth`` is ``None``, else the ``nth`` such weekday of the month (``-1``: the last)."""

    weekday: int
    start: time
    zone: str = "UTC"
    nth: int | None = None

    def starts_on(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        if self.nth is None:
            return True
        if self.nth == -1:
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == self.nth

    def start_on(self, day: date) -> datetime:
        """The UTC instant the window starts on ``day`` (a local date in ``zone``).

        A start in a spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00)
        is read with the offset before the change, i.e. when the clock would have shown it;
        one that happens twice (autumn) is the first."""
        local = datetime.combine(day, self.start, tzinfo=ZoneInfo(self.zone))
        return local.astimezone(UTC)

    def describe(self) -> str:
        day = WEEKDAYS[self.weekday].capitalize() + "s"
        if self.nth is not None:
            ordinal = next(k for k, v in ORDINALS.items() if v == self.nth)
            day = f"the {ordinal} {WEEKDAYS[self.weekday].capitalize()} of the month"
        return f"{day} {self.start:%H:%M} {self.zone}"


@dataclass(frozen=True, slots=True)
class MaintenanceEffect:
    """What a window does to an alert it covers: the incident opens at most at ``severity``
    (P2: no page, no channel of its own, in the shipped policies' paths), except alerts the
    policy classifies at one of ``keep`` (by default P0, "service down", which still pages)."""

    severity: Severity = Severity.P2
    keep: tuple[Severity, ...] = (Severity.P0,)

    def severity_for(self, classified: Severity) -> Severity:
        """The severity an alert classified at ``classified`` opens at under the window."""
        if classified in self.keep:
            return classified
        return min(classified, self.severity)  # by urgency: a window never raises one


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One stretch of maintenance, in UTC: a recurring window's occurrence, or an ad-hoc
    window (``ad_hoc`` is its id). ``services`` empty: every service."""

    name: str
    starts_at: datetime
    ends_at: datetime
    services: tuple[str, ...] = ()
    effect: MaintenanceEffect = field(default_factory=MaintenanceEffect)
    ad_hoc: int | None = None

    def covers(self, service: str, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at and (
            not self.services or service in self.services
        )


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A recurring window of the policy's ``maintenance`` section."""

    name: str
    recurrence: Recurrence
    length: timedelta
    services: tuple[str, ...] = ()
    effect: MaintenanceEffect = field(default_factory=MaintenanceEffect)

    def occurrence_at(self, at: datetime) -> Occurrence | None:
        """The occurrence in progress at the instant ``at``, if any."""
        zone = ZoneInfo(self.recurrence.zone)
        today = at.astimezone(zone).date()
        # Every local day on which an occurrence still running at `at` could have started.
        for back in range(self.length.days + 2):
            day = today - timedelta(days=back)
            if not self.recurrence.starts_on(day):
                continue
            starts = self.recurrence.start_on(day)
            ends = starts + self.length
            if starts <= at < ends:
                return Occurrence(self.name, starts, ends, self.services, self.effect)
        return None

    def next_after(self, at: datetime) -> Occurrence | None:
        """The first occurrence starting after the instant ``at`` (within two months: every
        recurrence starts at least once a month)."""
        zone = ZoneInfo(self.recurrence.zone)
        today = at.astimezone(zone).date()
        for ahead in range(_SEARCH_DAYS):
            day = today + timedelta(days=ahead)
            if not self.recurrence.starts_on(day):
                continue
            starts = self.recurrence.start_on(day)
            if starts > at:
                return Occurrence(
                    self.name, starts, starts + self.length, self.services, self.effect
                )
        return None


_SEARCH_DAYS = 62


def covering(
    windows: Iterable[MaintenanceWindow],
    service: str,
    at: datetime,
    ad_hoc: Iterable[Occurrence] = (),
) -> Occurrence | None:
    """The window that covers an alert of ``service`` at the instant ``at`` (aware), or
    ``None``. Ad-hoc windows come first (a person opened them for now), then the policy's in
    file order; the first that covers wins."""
    for occurrence in ad_hoc:
        if occurrence.covers(service, at):
            return occurrence
    for window in windows:
        found = window.occurrence_at(at)
        if found is not None and found.covers(service, at):
            return found
    return None


def parse_every(text: str) -> tuple[int, int | None]:
    """``sunday`` → (6, None); ``first monday`` → (0, 1); ``last sunday`` → (6, -1).
    ``ValueError`` for anything else."""
    words = text.strip().lower().split()
    if len(words) == 1 and words[0] in WEEKDAYS:
        return WEEKDAYS.index(words[0]), None
    if len(words) == 2 and words[0] in ORDINALS and words[1] in WEEKDAYS:
        return WEEKDAYS.index(words[1]), ORDINALS[words[0]]
    raise ValueError(
        f"{text!r} is not a recurrence: write a weekday (sunday) for every week, or"
        " first/second/third/fourth/last and a weekday (first monday) for once a month"
    )


def parse_clock(value: object) -> time:
    """A start time written ``"02:00"``. YAML reads an unquoted ``2:00`` as the number 120,
    so a number gets its own message."""
    if isinstance(value, int):
        raise ValueError(f"{value!r} is a number to YAML: quote the time, e.g. '02:00'")
    if not isinstance(value, str):
        raise ValueError("a start time is text such as '02:00'")
    try:
        hours, minutes = value.strip().split(":")
        if len(minutes) != 2:
            raise ValueError(value)
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day (HH:MM, e.g. '02:00')") from None


def check_zone(value: str) -> str:
    """An IANA time zone name the system's database knows (``UTC``, ``Europe/Berlin``)."""
    try:
        ZoneInfo(value)
    # ZoneInfoNotFoundError is a KeyError; a malformed key is a ValueError.
    except (KeyError, ValueError, OSError):
        raise ValueError(
            f"{value!r} is not a time zone (an IANA name: UTC, Europe/Berlin)"
        ) from None
    return value
