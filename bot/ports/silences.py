"""The silences port: Alertmanager's silences and the alerts they would match
(``bot.integrations.alertmanager.silences`` implements it over its API v2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain.silence import Matcher, NewSilence, Silence, SilencedAlert


class Silences(Protocol):
    """Create, list and expire silences, and ask which alerts matchers match. Every failure
    to ask, or a refusal, is an ``UpstreamError``."""

    async def create(self, silence: NewSilence) -> str:
        """Create ``silence``; answers its id."""
        ...

    async def expire(self, silence_id: str) -> None:
        """Expire the silence ``silence_id`` now."""
        ...

    async def list(self) -> Sequence[Silence]:
        """Every silence Alertmanager holds (active, pending and expired)."""
        ...

    async def alerts(self, matchers: Sequence[Matcher]) -> Sequence[SilencedAlert]:
        """The alerts Alertmanager holds that ``matchers`` all match (silenced and inhibited
        ones included)."""
        ...
