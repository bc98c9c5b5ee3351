"""Sign-in attempts, counted per client address: after ``limit`` wrong tokens within
``window`` the address is refused (429) until the oldest of them ages out. In memory and per
replica (a guess costs the same everywhere; the token is long and random, so this bounds
the noise of probing rather than making guessing feasible to begin with). Every refusal is
still one log line, counted or not."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

LIMIT = 10
WINDOW = timedelta(minutes=10)
# Addresses remembered at most; the least recently failing is forgotten first.
ADDRESSES_MAX = 10_000


class SignInLimiter:
    """Failed sign-ins per address within a sliding window."""

    def __init__(
        self, *, limit: int = LIMIT, window: timedelta = WINDOW, addresses: int = ADDRESSES_MAX
    ) -> None:
        self._limit = limit
        self._window = window
        self._addresses = addresses
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def retry_after(self, address: str, now: datetime) -> timedelta | None:
        """How long ``address`` must wait before trying again; ``None``: it may try now."""
        failures = self._recent(address, now)
        if len(failures) < self._limit:
            return None
        return failures[0] + self._window - now

    def failed(self, address: str, now: datetime) -> None:
        failures = self._recent(address, now)
        failures.append(now)
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self._addresses:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
