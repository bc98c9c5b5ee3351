"""A server-sent events client for tests, reading a stream as a browser's ``EventSource``
does: ``id:``, ``data:`` and ``retry:`` fields, comments, an event dispatched at a blank line.
Waits are bounds for a slow shared machine, never timings a test asserts on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# How long to wait for the next line of a stream before failing the test.
EVENT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str | None
    data: str

    @property
    def number(self) -> int:
        assert self.id is not None
        assert self.id.isdigit(), self.id
        return int(self.id)

    def json(self) -> dict[str, Any]:
        value = json.loads(self.data)
        assert isinstance(value, dict), self.data
        return value


@dataclass
class SseStream:
    """An open ``text/event-stream`` response, read line by line."""

    response: aiohttp.ClientResponse
    comments: list[str] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    last_id: str | None = None
    ended: bool = False

    async def next_comment(self, timeout: float = EVENT_TIMEOUT_S) -> str:
        """The next comment line (an event before it fails the test)."""
        seen = len(self.comments)
        event = await self.next_event(timeout, stop_at_comment=True)
        assert event is None, event
        assert len(self.comments) > seen, self.comments
        return self.comments[-1]

    async def next_event(
        self, timeout: float = EVENT_TIMEOUT_S, *, stop_at_comment: bool = False
    ) -> SseEvent | None:
        """The next event, or ``None`` once the server ends the stream (or, with
        ``stop_at_comment``, at the next comment)."""
        data: list[str] = []
        event_id: str | None = None
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
            if not raw:
                self.ended = True
                return None
            line = raw.decode().rstrip("\n").rstrip("\r")
            if not line:
                if data:
                    if event_id is not None:
                        self.last_id = event_id
                    return SseEvent(
                        event_id if event_id is not None else self.last_id, "\n".join(data)
                    )
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
                if stop_at_comment:
                    return None
            elif name == "id":
                event_id = value
            elif name == "data":
                data.append(value)
            elif name == "retry" and value.isdigit():
                self.retry.append(int(value))

    async def take(self, count: int, timeout: float = EVENT_TIMEOUT_S) -> list[SseEvent]:
        """The next ``count`` events; fails if the stream ends first."""
        events: list[SseEvent] = []
        while len(events) < count:
            event = await self.next_event(timeout)
            assert event is not None, f"the stream ended after {len(events)} of {count} events"
            events.append(event)
        return events

    async def until(
        self, wanted: Any, timeout: float = EVENT_TIMEOUT_S, *, limit: int = 10_000
    ) -> list[SseEvent]:
        """Events up to and including the first whose JSON ``wanted`` accepts."""
        events: list[SseEvent] = []
        while len(events) < limit:
            event = await self.next_event(timeout)
            assert event is not None, f"the stream ended after {len(events)} events"
            events.append(event)
            if wanted(event.json()):
                return events
        raise AssertionError(f"nothing wanted in {limit} events")

    async def rest(self, timeout: float = EVENT_TIMEOUT_S) -> list[SseEvent]:
        """Every event until the server ends the stream."""
        events: list[SseEvent] = []
        while (event := await self.next_event(timeout)) is not None:
            events.append(event)
        return events

    def close(self) -> None:
        self.response.close()


async def open_stream(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> SseStream:
    """``GET url`` as an event stream; asserts the server answered 200 with the right type."""
    response = await http.get(
        url,
        headers={"Accept": "text/event-stream", **(headers or {})},
        params=params,
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    )
    if response.status != 200:
        body = await response.text()
        response.close()
        raise AssertionError(f"GET {url}: {response.status} {body}")
    assert response.content_type == "text/event-stream", response.headers
    return SseStream(response)
