"""``/incident split GROUP`` and ``/incident merge ID``, typed in an incident's channel:
parsing their arguments, running them, and their replies (the use cases are
``bot.services.incidents.split`` and ``bot.services.incidents.merge``). Anyone in the
channel may run them, as anyone may acknowledge; the timeline records who did."""

from __future__ import annotations

from bot.domain.actor import Actor
from bot.services.incidents.lookup import incident_for
from bot.services.incidents.merge import merge_incident
from bot.services.incidents.split import split_group
from bot.text import escape
from handlers.deps import Deps
from handlers.slack.command import commands as cmd
from handlers.slack.command.args import fail, incident_id
from handlers.slack.command.words import Word

GROUP_MAX = 1000


def parse_split(text: str, words: list[Word]) -> cmd.Command:
    """The rest of the line, as typed: the group's number on the storm card, its key, or a
    unique prefix of it. Not split into words: a group key holds quotes and spaces
    (``{}:{alertname="X", service="y"}``)."""
    group = " ".join(text.split())
    if not group:
        raise fail("split", "Give one group: its number on the card, or its key.")
    if len(group) > GROUP_MAX:
        raise fail("split", f"The group is too long (at most {GROUP_MAX} characters).")
    return cmd.Split(group)


def parse_merge(text: str, words: list[Word]) -> cmd.Command:
    if len(words) != 1:
        raise fail("merge", "Give the id of the incident to merge this one into.")
    return cmd.Merge(incident_id("merge", words[0]))


async def run_split(deps: Deps, command: cmd.Split, *, actor: Actor, channel: str) -> str:
    source = await incident_for(deps.store, None, channel=channel)
    result = await split_group(
        deps.store, deps.policy, source, command.group, actor=actor, at=deps.clock.now()
    )
    return (
        f"Split group `{escape(result.group_key)}` ({result.alerts} alerts) out of"
        f" #{source} into #{result.split.id}; it gets its own channel."
    )


async def run_merge(deps: Deps, command: cmd.Merge, *, actor: Actor, channel: str) -> str:
    source = await incident_for(deps.store, None, channel=channel)
    target = await merge_incident(
        deps.store, source, command.target, actor=actor, at=deps.clock.now()
    )
    return f"Merged #{source} into #{target.id}: continue there."
