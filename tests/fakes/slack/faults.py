"""Failure injection and the request log of the fake Slack.

Time comes from an injected clock (``time.monotonic`` by default), so a test can open a 503
window and close it by advancing its own clock instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable
from typing import Any

Clock = Callable[[], float]


@dataclasses.dataclass(slots=True)
class RecordedRequest:
    """One HTTP request the fake received, and how it answered."""

    seq: int
    method: str
    args: dict[str, Any]
    received_at: float
    http_method: str
    content_type: str
    status: int = 0
    error: str | None = None
    retry_after: int | None = None
    early: bool = False
    """A call of a rate-limited method that arrived before the announced Retry-After elapsed."""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    status: int
    error: str
    retry_after: int | None = None


@dataclasses.dataclass(slots=True)
class _RateLimit:
    remaining: int
    retry_after: int
    blocked_until: float = -math.inf


@dataclasses.dataclass(slots=True)
class _Tier:
    """Slack's limit of a method: ``calls`` in any ``seconds``, per channel or per workspace."""

    calls: int
    seconds: float
    per_channel: bool
    accepted: dict[str, deque[float]] = dataclasses.field(default_factory=dict)

    def check(self, record: RecordedRequest) -> Fault | None:
        key = str(record.args.get("channel", "")) if self.per_channel else ""
        times = self.accepted.setdefault(key, deque())
        now = record.received_at
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) >= self.calls:
            return Fault(429, "ratelimited", max(1, math.ceil(times[0] + self.seconds - now)))
        times.append(now)
        return None


class FaultPlan:
    """What the next requests get instead of a normal answer."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._unavailable_calls = 0
        self._unavailable_until = -math.inf
        self._rate_limits: dict[str, _RateLimit] = {}
        self._tiers: dict[str, _Tier] = {}
        self._ok_budget: int | None = None
        self._failures: dict[str, list[Fault]] = {}

    def unavailable(self, calls: int) -> None:
        """Answer the next ``calls`` requests (any method) with HTTP 503."""
        self._unavailable_calls = calls

    def unavailable_for(self, seconds: float) -> None:
        """Answer every request with 503 until the clock has advanced by ``seconds``."""
        self._unavailable_until = self._clock() + seconds

    def unavailable_after(self, ok_calls: int) -> None:
        """Answer normally until ``ok_calls`` calls have succeeded, then 503 until ``clear``.

        Lets a test stop Slack right after a known number of confirmed calls, e.g. to kill a
        client with work left and no call whose success it has not been told of.
        """
        self._ok_budget = ok_calls

    def answered_ok(self) -> None:
        """The server reports each successful answer here."""
        if self._ok_budget is not None:
            self._ok_budget -= 1

    def rate_limit(self, method: str, calls: int, retry_after: int = 1) -> None:
        """Answer the next ``calls`` requests of ``method`` with 429 and ``Retry-After``.

        As on Slack, the limit is per method, and a call of that method made before the
        announced Retry-After has elapsed is refused again (recorded with ``early=True``).
        """
        self._rate_limits[method] = _RateLimit(remaining=calls, retry_after=retry_after)

    def enforce_tier(
        self, method: str, calls: int, seconds: float, *, per_channel: bool = False
    ) -> None:
        """Refuse (429 with ``Retry-After``) a call of ``method`` that would make more than
        ``calls`` accepted ones within any ``seconds`` (per ``channel`` argument when
        ``per_channel``), as Slack's rate tiers do: Tier 2 is ``enforce_tier(m, 20, 60)``."""
        self._tiers[method] = _Tier(calls, seconds, per_channel)

    def fail(
        self, method: str, calls: int = 1, *, status: int = 500, error: str = "internal_error"
    ) -> None:
        """Answer the next ``calls`` requests of ``method`` with ``status`` before doing
        anything (``upload`` names the upload URL). A 200 ``status`` is Slack's
        ``{"ok": false, "error": ...}``."""
        self._failures[method] = [Fault(status, error)] * calls

    def method_fault(self, method: str) -> Fault | None:
        """The injected failure for this request of ``method``, if one is left."""
        queue = self._failures.get(method)
        return queue.pop(0) if queue else None

    def clear(self) -> None:
        self._unavailable_calls = 0
        self._unavailable_until = -math.inf
        self._rate_limits.clear()
        self._tiers.clear()
        self._ok_budget = None
        self._failures.clear()

    def server_fault(self) -> Fault | None:
        if self._unavailable_calls > 0:
            self._unavailable_calls -= 1
            return Fault(503, "service_unavailable")
        if self._ok_budget is not None and self._ok_budget <= 0:
            return Fault(503, "service_unavailable")
        if self._clock() < self._unavailable_until:
            return Fault(503, "service_unavailable")
        return None

    def rate_limit_fault(self, record: RecordedRequest) -> Fault | None:
        limit = self._rate_limits.get(record.method)
        if limit is None:
            tier = self._tiers.get(record.method)
            return None if tier is None else tier.check(record)
        now = record.received_at
        if now < limit.blocked_until:
            record.early = True
            return Fault(429, "ratelimited", max(1, math.ceil(limit.blocked_until - now)))
        if limit.remaining <= 0:
            return None
        limit.remaining -= 1
        limit.blocked_until = now + limit.retry_after
        return Fault(429, "ratelimited", limit.retry_after)


class RequestLog:
    """Every request, in arrival order."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.listeners: list[Callable[[RecordedRequest], None]] = []
        """Called with each request as it arrives (method and time known, args not yet)."""

    def add(self, **fields: Any) -> RecordedRequest:
        record = RecordedRequest(seq=len(self.requests), **fields)
        self.requests.append(record)
        for listener in self.listeners:
            listener(record)
        return record

    def calls(self, method: str, *, ok: bool | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and (ok is None or r.ok == ok)]

    def retry_after_violations(self) -> list[RecordedRequest]:
        """Requests that arrived while an earlier 429 of the same method still said to wait."""
        violations: list[RecordedRequest] = []
        wait_until: dict[str, float] = {}
        for record in self.requests:
            if record.received_at < wait_until.get(record.method, -math.inf):
                violations.append(record)
            if record.status == 429 and record.retry_after is not None:
                wait_until[record.method] = record.received_at + record.retry_after
        return violations
