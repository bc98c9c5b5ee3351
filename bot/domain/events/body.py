"""What every timeline body shares: the kinds it may be stored as.

A body written for one kind names it in its class line (``class Note(OneKind,
kind=EventKind.NOTE)``) and has it as a class attribute. A body shared by a family of kinds
(an alert firing or resolved) names the family (``class AlertChanged(Family, kinds=(…))``)
and carries its ``kind`` as a field, checked against the family when built.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, ClassVar

from bot.domain.events.kinds import EventKind


def stored_as(key: str, **kwargs: Any) -> Any:
    """A field stored under ``key`` in the JSON body (for keys like ``from``)."""
    return field(metadata={"key": key}, **kwargs)


class OneKind:
    """A body stored as exactly one kind."""

    __slots__ = ()
    KINDS: ClassVar[tuple[EventKind, ...]]
    kind: ClassVar[EventKind]

    def __init_subclass__(cls, kind: EventKind | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``dataclass(slots=True)`` builds the class again, without the keyword.
        if kind is not None:
            cls.kind = kind
            cls.KINDS = (kind,)


class Family:
    """A body stored as one of a family of kinds; the ``kind`` field says which."""

    __slots__ = ()
    KINDS: ClassVar[tuple[EventKind, ...]]
    kind: EventKind

    def __init_subclass__(cls, kinds: tuple[EventKind, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kinds:
            cls.KINDS = kinds

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"{type(self).__name__} cannot be a {self.kind!r} entry")
