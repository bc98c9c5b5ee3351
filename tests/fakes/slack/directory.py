"""A fake Slack directory: user groups and their members, as the Slack adapter's
``usergroups.users.list`` would give them, without HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

ONCALL = "S0ONCALL"  # a Slack user group holding Carol
CAROL = "W0CAROL"


@dataclass
class FakeDirectory:
    """Slack user groups, as the Slack adapter's ``usergroups.users.list`` would give them."""

    groups: dict[str, frozenset[str]] = field(default_factory=lambda: {ONCALL: frozenset({CAROL})})
    lookups: int = 0

    async def group_members(self, group_id: str) -> frozenset[str]:
        self.lookups += 1
        return self.groups.get(group_id, frozenset())
