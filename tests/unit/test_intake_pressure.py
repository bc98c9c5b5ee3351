"""Storm pacing decided on the service side: a queue behind commits, or an arrival rate over
the storm rate, makes intake busy; a rate fades once arrivals stop."""

from __future__ import annotations

from bot.services.incidents.intake_pressure import IntakePressure, StormPacing


class Ticks:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.05  # mid-window, so a step of one window crosses one boundary

    def __call__(self) -> float:
        return self.now


def test_a_queue_behind_commits_is_pressure() -> None:
    gauge = IntakePressure(StormPacing(pressure=4), time=Ticks())
    assert not gauge.busy(3)
    assert gauge.busy(4)


def test_an_arrival_rate_over_the_storm_rate_is_pressure_until_it_fades() -> None:
    ticks = Ticks()
    gauge = IntakePressure(StormPacing(storm_rate=300, window=0.1, pressure=4), time=ticks)
    for _ in range(59):
        gauge.arrived()
    assert not gauge.busy(0)  # 59 in a window: under 300/s over two windows
    gauge.arrived()
    assert gauge.busy(0)
    ticks.now += 0.1  # the next window still sees the last one's arrivals
    assert gauge.busy(0)
    ticks.now += 0.1
    assert not gauge.busy(0)
