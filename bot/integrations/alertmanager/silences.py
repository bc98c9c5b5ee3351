"""Alertmanager's silences over its API v2 (``bot.ports.Silences``), with aiohttp.

The base URL is the one configured (``ALERTMANAGER_URL``), never one that arrived in a
payload: a webhook's ``externalURL`` is whatever the sender says it is. The calls are
``POST /api/v2/silences``, ``DELETE /api/v2/silence/{id}``, ``GET /api/v2/silences`` and
``GET /api/v2/alerts?filter=…``; every failure, a refusal or an unreachable Alertmanager, is an
``UpstreamError`` carrying Alertmanager's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.domain.silence import (
    Matcher,
    MatchOp,
    NewSilence,
    Silence,
    SilencedAlert,
    SilenceState,
)
from bot.errors import UpstreamError

TIMEOUT_S = 10.0
# Go writes nanoseconds; Python 3.11 reads at most microseconds.
_FRACTION = re.compile(r"(\.\d{6})\d+")
# How much of a refusal's body is quoted in the error.
_BODY_MAX = 300


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as Alertmanager writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as Alertmanager writes it (``Z``, nanoseconds) as an aware datetime."""
    return datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))


def matcher_json(matcher: Matcher) -> dict[str, Any]:
    """The API's ``matcher`` object."""
    op = matcher.op
    return {
        "name": matcher.name,
        "value": matcher.value,
        "isRegex": op.is_regex,
        "isEqual": op.is_equal,
    }


def matcher_of(item: Mapping[str, Any]) -> Matcher:
    """A ``matcher`` object read back (``isEqual`` absent, as older versions write it, is
    true)."""
    regex = bool(item.get("isRegex", False))
    equal = bool(item.get("isEqual", True))
    op = {
        (False, True): MatchOp.EQUAL,
        (False, False): MatchOp.NOT_EQUAL,
        (True, True): MatchOp.REGEX,
        (True, False): MatchOp.NOT_REGEX,
    }[(regex, equal)]
    return Matcher(str(item["name"]), str(item["value"]), op)


def silence_json(silence: NewSilence) -> dict[str, Any]:
    """The API's ``postableSilence``."""
    return {
        "matchers": [matcher_json(m) for m in silence.matchers],
        "startsAt": rfc3339(silence.starts_at),
        "endsAt": rfc3339(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.comment,
    }


def silence_of(item: Mapping[str, Any]) -> Silence:
    """A ``gettableSilence`` read."""
    return Silence(
        id=str(item["id"]),
        matchers=tuple(matcher_of(m) for m in item.get("matchers", ())),
        starts_at=parse_time(str(item["startsAt"])),
        ends_at=parse_time(str(item["endsAt"])),
        created_by=str(item.get("createdBy", "")),
        comment=str(item.get("comment", "")),
        state=SilenceState(str(item.get("status", {}).get("state", "expired"))),
    )


def alert_of(item: Mapping[str, Any]) -> SilencedAlert:
    """A ``gettableAlert`` read, as far as silencing needs."""
    labels = item.get("labels") or {}
    return SilencedAlert(
        fingerprint=str(item.get("fingerprint", "")),
        labels={str(k): str(v) for k, v in labels.items()},
    )


class AlertmanagerSilences:
    """The ``Silences`` port over one Alertmanager's API v2. The session is made on first
    use (inside the running loop) and closed by ``close``."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._base = base_url.rstrip("/") + "/api/v2"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create(self, silence: NewSilence) -> str:
        answer = await self._call("POST", "/silences", json=silence_json(silence))
        if not isinstance(answer, Mapping) or not answer.get("silenceID"):
            raise UpstreamError(f"Alertmanager created a silence but named no id: {answer!r}")
        return str(answer["silenceID"])

    async def expire(self, silence_id: str) -> None:
        await self._call("DELETE", f"/silence/{quote(silence_id, safe='')}")

    async def list(self) -> Sequence[Silence]:
        answer = await self._call("GET", "/silences")
        try:
            return [silence_of(item) for item in _items(answer)]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise UpstreamError(f"Alertmanager's silences could not be read: {exc!r}") from exc

    async def alerts(self, matchers: Sequence[Matcher]) -> Sequence[SilencedAlert]:
        params = [("filter", str(m)) for m in matchers]
        answer = await self._call("GET", "/alerts", params=params)
        try:
            return [alert_of(item) for item in _items(answer)]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise UpstreamError(f"Alertmanager's alerts could not be read: {exc!r}") from exc

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Sequence[tuple[str, str]] = (),
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self._base + path
        try:
            async with self._session.request(
                method, url, json=json, params=list(params) or None
            ) as response:
                text = await response.text()
                if response.status >= 300:
                    raise UpstreamError(
                        f"Alertmanager answered {response.status} to {method} /api/v2{path}: "
                        f"{text.strip()[:_BODY_MAX]}"
                    )
                return await response.json(content_type=None) if text.strip() else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise UpstreamError(
                f"Alertmanager could not be asked ({method} /api/v2{path}): {exc!r}"
            ) from exc


def _items(answer: Any) -> list[Mapping[str, Any]]:
    if not isinstance(answer, list):
        raise UpstreamError(f"Alertmanager answered a {type(answer).__name__}, not a list")
    return [item for item in answer if isinstance(item, Mapping)]
