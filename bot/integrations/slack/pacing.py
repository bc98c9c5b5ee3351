"""Slack's rate limits as data, for the outbox to keep before Slack answers 429.

Slack limits most Web API methods per method, per workspace, per app, in tiers of requests
a minute (Tier 1: 1+, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+, each allowing short bursts);
posting messages is a special tier, about one message a second per channel. Each paced call
takes a slot (``bot.domain.outbox.Pace``) before it leaves, at the tier's floor on average
(with a small burst where Slack welcomes one): ``conversations.create`` (Tier 2) is one
every 3 seconds however many replicas run.

The key names the workspace by its token's app: one firebreak serves one workspace, so
``slack:`` is enough; a second workspace would need its team id in the key.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.incident import JSON
from bot.domain.outbox import Pace

# Requests a minute at each tier's floor, and the burst each takes after a quiet spell.
# Slack welcomes "sporadic bursts" on Tier 3 and "generous" ones on Tier 4; Tier 2 gets
# none here: it is ``conversations.create``'s, the one a storm leans on.
TIER_PER_MINUTE: Mapping[int, int] = {1: 1, 2: 20, 3: 50, 4: 100}
TIER_BURST: Mapping[int, int] = {1: 1, 2: 1, 3: 5, 4: 10}

# The outbox's Slack methods and their tiers (the method's page in Slack's reference).
METHOD_TIERS: Mapping[str, int] = {
    "conversations.create": 2,
    "conversations.setTopic": 2,
    "conversations.invite": 3,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    # Both of its Web API methods are Tier 4 (bot.integrations.slack.files).
    "files.uploadV2": 4,
}

# Methods that post a message: one a second per channel (Slack's "posting messages" limit),
# which tolerates short bursts: a card and its first lines leave together.
# A shared file arrives as a message in its channel, so it takes that channel's pace too.
PER_CHANNEL_SECONDS: Mapping[str, float] = {"chat.postMessage": 1.0, "files.uploadV2": 1.0}
POST_BURST = 3
# The argument naming the channel, where it is not ``channel``.
CHANNEL_ARG: Mapping[str, str] = {"files.uploadV2": "channel_id"}

PREFIX = "slack"


def slack_pace(method: str, args: JSON) -> Pace | None:
    """The slot a Slack call takes: its channel's for a post, its method's for a tiered
    method, none for a method the table does not name."""
    per_channel = PER_CHANNEL_SECONDS.get(method)
    channel = args.get(CHANNEL_ARG.get(method, "channel"))
    if per_channel is not None and isinstance(channel, str) and channel:
        return Pace(f"{PREFIX}:post:{channel}", per_channel, POST_BURST)
    tier = METHOD_TIERS.get(method)
    if tier is None:
        return None
    return Pace(f"{PREFIX}:{method}", 60.0 / TIER_PER_MINUTE[tier], TIER_BURST[tier])
