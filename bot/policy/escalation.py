"""The policy's escalation: the on-call rotation and each severity's path of levels.

A level is due ``after`` a delay from the start of its path (the incident opened, or its
severity changed, which starts the new severity's path): it notifies people (``notify``) and/or
raises the severity (``upgrade``). Durations are written ``30s``, ``15m``, ``1h``, ``2h30m``,
``1d``. Stdlib only; ``bot.policy.file`` reads and checks the YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.escalation import Recipient, Via
from bot.domain.incident import Severity

_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``2h30m``, ``1d`` (and ``0``) as a ``timedelta``;
    ``ValueError`` for anything else."""
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"not a duration: {text!r} (write 30s, 15m, 1h or 2h30m)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The inverse of ``parse_duration``: ``1h30m``, ``15m``, ``0s``."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class RotationMember:
    """Someone (or a team alias) the path can name by key: ``name`` for people to read,
    ``email``, Slack user or user-group ids (``slack``), and the PagerDuty service a page to
    them goes to (``pagerduty``; empty: the default routing key)."""

    key: str
    name: str = ""
    email: str = ""
    slack: tuple[str, ...] = ()
    pagerduty: str = ""


@dataclass(frozen=True, slots=True)
class Notify:
    """One line of a level: tell ``who`` (a rotation key, or a literal email address or
    Slack id) ``via`` a channel."""

    via: Via
    who: str


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One level of a path. ``name`` is what people read ("team lead")."""

    after: timedelta
    notify: tuple[Notify, ...] = ()
    upgrade: Severity | None = None
    name: str = ""


def recipients(
    level: EscalationLevel, rotation: Mapping[str, RotationMember]
) -> tuple[Recipient, ...]:
    """The concrete notifications a level sends: rotation keys turned into addresses, one
    recipient per Slack id. A key the rotation lacks is kept as a literal address (the
    policy checker refuses such a policy, so this only happens to hand-built ones)."""
    out: list[Recipient] = []
    for line in level.notify:
        member = rotation.get(line.who)
        if member is None:
            out.append(Recipient(line.via, line.who, line.who))
        elif line.via is Via.EMAIL:
            out.append(Recipient(Via.EMAIL, member.key, member.email))
        elif line.via is Via.SLACK:
            out.extend(Recipient(Via.SLACK, member.key, ident) for ident in member.slack)
        else:
            out.append(Recipient(Via.PAGE, member.key, member.pagerduty))
    return tuple(dict.fromkeys(out))
