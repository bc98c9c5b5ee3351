"""Checks of a policy's escalation: the values the rotation and the paths hold (used by the
schema as validators), and the checks between them the schema cannot express (a level names a
member the rotation has, by a channel the member can be reached on; delays in order; an upgrade
that raises the severity and ends its path). The latter read the raw data, as every
cross-reference in ``bot.policy.file`` does, so one run reports every problem with its line.
Stdlib only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from bot.domain.escalation import Via
from bot.domain.incident import Severity
from bot.policy.escalation import format_duration, parse_duration
from bot.policy.scenario_checks import Path_, Problem
from bot.text import is_group_id, is_user_id

# Slack ids: U… or W… a user, S… a user group (the form the Slack adapters accept).
# An address an SMTP server takes as a recipient: no display name, no spaces, one @.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# A PagerDuty service as PAGERDUTY_ROUTING_KEYS names it ("name=KEY,…"): no '=', ',' or space.
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Rotation keys are lowercase names, so a key can never be mistaken for a Slack id or an address.
ROTATION_KEY = re.compile(r"[a-z][a-z0-9_-]{0,63}")

VIAS = tuple(via.value for via in Via)
_SEVERITIES = tuple(s.value for s in Severity)


def email_address(value: str) -> str:
    if EMAIL.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return value


def slack_id(value: str) -> str:
    if not (is_user_id(value) or is_group_id(value)):
        raise ValueError(f"{value!r} is not a Slack id (U… or W… for a user, S… for a user group)")
    return value


def service_name(value: str) -> str:
    if SERVICE_NAME.fullmatch(value) is None:
        raise ValueError(
            f"{value!r} is not a plain PagerDuty service name (letters, digits, '.', '_', '-'),"
            " as PAGERDUTY_ROUTING_KEYS names it"
        )
    return value


def rotation_key(value: str) -> str:
    if ROTATION_KEY.fullmatch(value) is None:
        raise ValueError(
            f"{value!r} is not a rotation key (lowercase letters, digits, '_' and '-',"
            " starting with a letter)"
        )
    return value


def duration(value: object) -> timedelta:
    """A delay as written in the file: ``30s``, ``15m``, ``1h``, ``2h30m``, or ``0`` (which
    YAML reads as a number)."""
    if isinstance(value, bool) or (isinstance(value, int) and value != 0):
        raise ValueError(f"{value!r} is not a duration (write 30s, 15m, 1h or 2h30m)")
    if isinstance(value, int):
        return timedelta(0)
    if not isinstance(value, str):
        raise ValueError("a duration is text such as 30s, 15m, 1h or 2h30m")
    return parse_duration(value)


def whole_minutes(delta: timedelta) -> int:
    """A response target in minutes (incidents store minutes): positive and whole."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        raise ValueError("a response target must be longer than 0")
    if seconds % 60:
        raise ValueError(
            f"a response target of {format_duration(delta)} is not whole minutes"
            " (incidents store minutes)"
        )
    return seconds // 60


def _delay(value: object) -> timedelta | None:
    try:
        return duration(value)
    except ValueError:
        return None  # the schema reports it


At = Callable[[Path_, str], Problem]


def escalation_checks(data: Mapping[Any, Any], at: At) -> Iterator[Problem]:
    """Every severity's path against the rotation and against itself."""
    raw = data.get("rotation")
    rotation: Mapping[Any, Any] = raw if isinstance(raw, dict) else {}
    severities = data.get("severities")
    if not isinstance(severities, dict):
        return
    for sev, level_doc in severities.items():
        path = level_doc.get("path") if isinstance(level_doc, dict) else None
        if not isinstance(path, list):
            continue
        where: Path_ = ("severities", str(sev), "path")
        yield from _path_checks(str(sev), path, where, at)
        for i, level in enumerate(path):
            notify = level.get("notify") if isinstance(level, dict) else None
            for j, line in enumerate(notify if isinstance(notify, list) else []):
                if isinstance(line, dict) and len(line) == 1:
                    [(via, who)] = line.items()
                    if via in VIAS and isinstance(who, str):
                        problem = _reach(Via(via), who, rotation)
                        if problem:
                            yield at((*where, i, "notify", j, via), problem)


def _path_checks(sev: str, path: list[Any], where: Path_, at: At) -> Iterator[Problem]:
    """Delays from 0 and strictly increasing; each level does something; an upgrade raises
    the severity and is the last level (it starts the new severity's path)."""
    previous: timedelta | None = None
    upgraded_at: int | None = None
    for i, level in enumerate(path):
        if not isinstance(level, dict):
            continue
        if upgraded_at is not None:
            yield at(
                (*where, i),
                f"unreachable: level {upgraded_at} upgrades the severity, which starts the new"
                " severity's path",
            )
        delay = _delay(level.get("after"))
        if delay is not None:
            if i == 0 and delay:
                yield at(
                    (*where, 0, "after"), "the first level must be at 0 (when the path starts)"
                )
            elif previous is not None and delay <= previous:
                yield at(
                    (*where, i, "after"),
                    f"{format_duration(delay)} is not after the level before"
                    f" ({format_duration(previous)}): delays must increase",
                )
            previous = delay
        upgrade = level.get("upgrade")
        if not level.get("notify") and upgrade is None:
            yield at((*where, i), "a level needs notify, upgrade or both")
        if (
            isinstance(upgrade, str)
            and upgrade in Severity.__members__
            and sev in Severity.__members__
        ):
            order = list(Severity)
            if order.index(Severity(upgrade)) >= order.index(Severity(sev)):
                yield at(
                    (*where, i, "upgrade"),
                    f"upgrade to {upgrade} does not raise the severity above {sev}",
                )
        if upgrade is not None and upgraded_at is None:
            upgraded_at = i


def _reach(via: Via, who: str, rotation: Mapping[Any, Any]) -> str:
    """What is wrong with telling ``who`` by ``via``, or ``""``."""
    member = rotation.get(who)
    if isinstance(member, dict):
        if via is Via.EMAIL and not member.get("email"):
            return f"rotation member {who!r} has no email to send to"
        if via is Via.SLACK and not member.get("slack"):
            return f"rotation member {who!r} has no Slack ids to mention"
        return ""  # a page goes to the member's service, or to the default routing key
    if who in rotation:
        return ""  # a member with the wrong shape: the schema reports it
    if ROTATION_KEY.fullmatch(who):
        known = ", ".join(sorted(map(str, rotation)))
        return f"unknown rotation member {who!r} " + (
            f"(the rotation has {known})" if known else "(the policy has no rotation)"
        )
    if via is Via.PAGE:
        return f"a page goes to a rotation member (its PagerDuty service); {who!r} is not one"
    try:
        email_address(who) if via is Via.EMAIL else slack_id(who)
    except ValueError as exc:
        return f"{exc}, nor a rotation member"
    return ""
