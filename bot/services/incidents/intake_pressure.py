"""Storm pacing: whether an alert storm is arriving at intake, so the inbox processor takes
small batches and intake keeps the CPU and the database (``bot.services.incidents.inbox``).

The decision lives here, with the processor whose batch size it sets; the inbox writer
(``db.intake.inbox``) only reports what it sees: each arrival, and how many deliveries wait
for a commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StormPacing:
    """Intake is "under pressure" (an alert storm) while deliveries arrive faster than
    ``storm_rate`` a second, measured over the last one or two ``window``s, or while
    ``pressure`` of them wait for a commit. Arrivals are counted as they come in, not as
    commits go out: a processor that hogged the database would otherwise make commits small
    and so make intake look calm. Below that rate (200/s, say) processing runs freely."""

    storm_rate: int = 300
    window: float = 0.1
    pressure: int = 4


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class IntakePressure:
    """Counts arrivals per window and says whether intake is busy."""

    def __init__(
        self, pacing: StormPacing | None = None, *, time: Callable[[], float] = _loop_time
    ) -> None:
        self.pacing = pacing or StormPacing()
        self._time = time
        # Arrivals per window: the current window's count and the previous one's.
        self._window = 0
        self._arrived = 0
        self._arrived_before = 0

    def _current_window(self) -> int:
        return int(self._time() / self.pacing.window)

    def arrived(self) -> None:
        """Count one delivery arriving at intake."""
        window = self._current_window()
        if window != self._window:
            self._arrived_before = self._arrived if window == self._window + 1 else 0
            self._arrived = 0
            self._window = window
        self._arrived += 1

    def busy(self, waiting: int) -> bool:
        """Whether a storm is arriving, with ``waiting`` deliveries queued for a commit."""
        if waiting >= self.pacing.pressure:
            return True
        window = self._current_window()
        recent = 0
        if window == self._window:
            recent = self._arrived + self._arrived_before
        elif window == self._window + 1:
            recent = self._arrived
        return recent >= self.pacing.storm_rate * self.pacing.window * 2

    async def settled(self, waiting: Callable[[], int]) -> None:
        """Return once intake is no longer busy; ``waiting`` reads the queue each time."""
        # A rate fades with time rather than with an event, so look again each window.
        while self.busy(waiting()):  # noqa: ASYNC110
            await asyncio.sleep(self.pacing.window)
