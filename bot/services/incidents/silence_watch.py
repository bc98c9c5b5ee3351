"""The silence watcher: a worker that notices the incident silences whose end time passed
(``Silencer.sweep_ended``), so the alerts that resolved while silenced are resolved too."""

from __future__ import annotations

from bot.clock import Clock
from bot.services.incidents.silence import Silencer
from bot.workers import Pacing, Worker

# Seconds between looks: a silence's end is noticed within this; each look reads the open
# incidents once and asks Alertmanager only about those whose silence ended.
INTERVAL = 30.0


def silence_watcher(silencer: Silencer, clock: Clock, *, interval: float = INTERVAL) -> Worker:
    """The watcher of ``silencer``'s silences."""

    async def step() -> bool:
        await silencer.sweep_ended()
        return False

    return Worker(
        "silence-watcher",
        step,
        clock=clock,
        pacing=Pacing(poll=interval, backoff_base=interval, backoff_cap=interval * 4),
    )
