"""An in-memory Alertmanager as the ``Silences`` port sees it: alerts it holds, and the
silences made, listed and expired, with the same matching rule (``Matcher.matches``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.clock import Clock
from bot.domain.silence import Matcher, NewSilence, Silence, SilencedAlert, SilenceState
from bot.errors import UpstreamError


@dataclass
class MemorySilences:
    """Holds ``alerts`` (fingerprint → labels); ``down`` makes every call fail."""

    clock: Clock
    alerts_held: dict[str, Mapping[str, str]] = field(default_factory=dict)
    silences: dict[str, Silence] = field(default_factory=dict)
    down: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _check(self) -> None:
        if self.down:
            raise UpstreamError("Alertmanager could not be asked: connection refused")

    async def create(self, silence: NewSilence) -> str:
        self._check()
        silence_id = f"silence-{next(self._ids)}"
        self.silences[silence_id] = Silence(
            id=silence_id,
            matchers=silence.matchers,
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            created_by=silence.created_by,
            comment=silence.comment,
            state=SilenceState.ACTIVE,
        )
        return silence_id

    async def expire(self, silence_id: str) -> None:
        self._check()
        held = self.silences.get(silence_id)
        if held is None or held.state is SilenceState.EXPIRED:
            raise UpstreamError(f"Alertmanager answered 500: silence {silence_id} not active")
        self.silences[silence_id] = replace(
            held, state=SilenceState.EXPIRED, ends_at=self.clock.now()
        )

    def end(self, silence_id: str, at: datetime) -> None:
        """The silence reached its end time (or someone expired it in Alertmanager)."""
        held = self.silences[silence_id]
        self.silences[silence_id] = replace(held, state=SilenceState.EXPIRED, ends_at=at)

    async def list(self) -> Sequence[Silence]:
        self._check()
        return list(self.silences.values())

    async def alerts(self, matchers: Sequence[Matcher]) -> Sequence[SilencedAlert]:
        self._check()
        return [
            SilencedAlert(fingerprint, labels)
            for fingerprint, labels in self.alerts_held.items()
            if all(m.matches(labels) for m in matchers)
        ]
