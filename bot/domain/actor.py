"""Who did something: a person in a chat tool, a sender of alerts, or firebreak itself.

The domain, the ports and the use cases pass ``Actor`` values; timeline entries and action
rows store an actor as text, ``source:id`` (``slack:U123``,
``system:alertmanager``, ``bot:firebreak``); ``str(actor)`` writes that form and
``Actor.parse`` reads it back, including what older versions wrote. The core never looks
inside an id: what a chat tool's ids mean (users, user groups) is its adapter's business."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Actor:
    """``source`` names where the actor comes from (``slack``, ``system``, ``bot``), ``id``
    is its id there, ``display`` an optional human name (never stored, never trusted).

    Two actors are the same when source and id are: a display name never makes a requester
    someone else, nor two clicks two approvers."""

    source: str
    id: str
    display: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.source}:{self.id}" if self.id else self.source

    @staticmethod
    def parse(text: str) -> Actor:
        """The actor a stored ``source:id`` string names (``bot`` alone has no id)."""
        source, _, ident = text.partition(":")
        return Actor(source=source, id=ident)


# Sources the core names: people clicking and typing in Slack (their ids are the Slack
# adapter's business), alert senders, and firebreak itself.
SLACK = "slack"
SYSTEM = "system"

BOT = Actor("bot", "firebreak")
