"""The storm part of an incident card: how many groups, their alerts counted by name and
severity, and the first few groups with the number ``/incident split`` takes. Bounded, so a
storm of a thousand groups still fits Slack's limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.domain.groups import groups_of
from bot.domain.incident import AlertEpisode, Incident
from bot.integrations.slack import kit
from bot.integrations.slack.kit import Block
from bot.integrations.slack.text import inert, truncate

GROUPS_SHOWN = 5
COUNTS_SHOWN = 8
LINE_MAX = 200


def storm_blocks(incident: Incident, alerts: Sequence[AlertEpisode]) -> list[Block]:
    """One section for a storm incident; none for any other."""
    if incident.storm_key is None:
        return []
    groups = groups_of(incident, alerts)
    counts = Counter((alert.name or "alert", alert.severity.value) for alert in alerts)
    lines = [f"*Alert storm on {inert(incident.storm_key)}: {len(groups)} groups*"]
    for (name, severity), count in counts.most_common(COUNTS_SHOWN):
        lines.append(f"{inert(name)} ({severity}) × {count}")
    if len(counts) > COUNTS_SHOWN:
        lines.append(f"and {len(counts) - COUNTS_SHOWN} more kinds")
    for group in groups[:GROUPS_SHOWN]:
        lines.append(
            f"{group.number}. `{inert(group.key)}`: {len(group.alerts)} alerts,"
            f" {group.firing} firing"
        )
    if len(groups) > GROUPS_SHOWN:
        lines.append(f"and {len(groups) - GROUPS_SHOWN} more groups")
    lines.append("`/incident split N` moves group N to an incident of its own.")
    body = "\n".join(truncate(line, LINE_MAX) for line in lines)
    return [kit.section(truncate(body, kit.SECTION_TEXT_MAX), block_id="firebreak.storm")]
