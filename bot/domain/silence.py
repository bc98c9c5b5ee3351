"""Alertmanager silences as the core speaks of them: label matchers, a silence to create and
a silence Alertmanager holds. Alertmanager's own wire format is the adapter's business."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# A Prometheus label name; Alertmanager 0.25 refuses anything else in a silence.
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class MatchOp(enum.StrEnum):
    """How a matcher compares a label's value, written as in Alertmanager and PromQL."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"

    @property
    def is_regex(self) -> bool:
        return self in (MatchOp.REGEX, MatchOp.NOT_REGEX)

    @property
    def is_equal(self) -> bool:
        return self in (MatchOp.EQUAL, MatchOp.REGEX)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher of a silence (``service="lnn-service"``)."""

    name: str
    value: str
    op: MatchOp = MatchOp.EQUAL

    def __str__(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op.value}"{quoted}"'

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string, as
        in Alertmanager; a regex is anchored at both ends)."""
        value = labels.get(self.name, "")
        if self.op.is_regex:
            found = re.fullmatch(self.value, value) is not None
        else:
            found = value == self.value
        return found == self.op.is_equal


def equality_matchers(labels: Mapping[str, str]) -> tuple[Matcher, ...]:
    """One ``=`` matcher per label, sorted by name (the group's common labels by default)."""
    return tuple(Matcher(name, labels[name]) for name in sorted(labels))


@dataclass(frozen=True, slots=True)
class NewSilence:
    """A silence to create: its matchers, its time span, who made it and why."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class SilenceState(enum.StrEnum):
    """Alertmanager's states of a silence."""

    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence as Alertmanager holds it."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: SilenceState


@dataclass(frozen=True, slots=True)
class SilencedAlert:
    """An alert Alertmanager holds, as far as silencing cares: its identity and labels."""

    fingerprint: str
    labels: Mapping[str, str]


# A matcher as ``str(Matcher)`` writes it: name, operator, the value quoted with ``\`` escapes.
_WRITTEN = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def read_matcher(text: str) -> Matcher:
    """The matcher ``str(Matcher)`` wrote (as timeline entries keep them); ``ValueError``
    for anything else."""
    found = _WRITTEN.fullmatch(text)
    if found is None:
        raise ValueError(f"not a matcher as firebreak writes them: {text!r}")
    return Matcher(found.group(1), _ESCAPED.sub(r"\1", found.group(3)), MatchOp(found.group(2)))
