"""Range queries against the one configured Prometheus (``FIREBREAK_PROMETHEUS_URL``), over
its HTTP API with aiohttp.

``GET /api/v1/query_range?query=…&start=…&end=…&step=…``; the base URL is the configured
one, never a URL from a payload (an alert's ``generatorURL`` only supplies the expression,
``bot.domain.promql``). Every failure (unreachable, a timeout, a refusal with Prometheus's
``error``, an answer that is not a matrix, an answer too large to read) is a
``MetricsQueryFailed`` carrying Prometheus's words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from bot.domain.graphs import Series
from bot.errors import MetricsQueryFailed

TIMEOUT_S = 10.0
# An hour of 240 points is ~10 KB a series; this bounds what a query with very many series
# may make the bot read.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# How much of a refusal is quoted in the error.
_QUOTE_MAX = 300


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _value(text: object) -> float:
    # Prometheus writes sample values as strings ("NaN", "+Inf" included).
    try:
        return float(str(text))
    except ValueError:
        return math.nan


def series_of(answer: Mapping[str, Any]) -> list[Series]:
    """The series of a ``query_range`` answer (``status`` success, a ``matrix``)."""
    data = answer.get("data")
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
        raise MetricsQueryFailed(f"Prometheus answered a {kind}, not a matrix")
    out = []
    for item in data.get("result") or ():
        if not isinstance(item, Mapping):
            continue
        metric = item.get("metric") or {}
        labels = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, Mapping) else {}
        points = tuple(
            (float(pair[0]), _value(pair[1]))
            for pair in item.get("values") or ()
            if isinstance(pair, Sequence) and len(pair) == 2
        )
        out.append(Series(labels=labels, points=points))
    return out


class PrometheusQuery:
    """Range queries over one Prometheus's HTTP API. The session is made on first use
    (inside the running loop) and closed by ``close``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = TIMEOUT_S,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self._url = base_url.rstrip("/") + "/api/v1/query_range"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def range(
        self, expr: str, *, start: datetime, end: datetime, step_seconds: float
    ) -> list[Series]:
        """``expr`` from ``start`` to ``end`` every ``step_seconds``."""
        params = {
            "query": expr,
            "start": _epoch(start),
            "end": _epoch(end),
            "step": f"{step_seconds:g}",
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self._url, params=params, allow_redirects=False) as reply:
                body = await _read_bounded(reply, self._max_bytes)
                status = reply.status
        except TimeoutError as exc:
            raise MetricsQueryFailed(
                f"Prometheus did not answer within {self._timeout.total:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise MetricsQueryFailed(
                f"Prometheus could not be asked: {exc or type(exc).__name__}"
            ) from exc
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MetricsQueryFailed(
                f"Prometheus answered {status} with no JSON: {_quote(body)}"
            ) from exc
        if not isinstance(answer, Mapping):
            raise MetricsQueryFailed(f"Prometheus answered {status} with {type(answer).__name__}")
        if status != 200 or answer.get("status") != "success":
            error = answer.get("error") or _quote(body)
            raise MetricsQueryFailed(
                f"Prometheus refused the query ({status} {answer.get('errorType', '')}): {error}"
            )
        return series_of(answer)


async def _read_bounded(reply: aiohttp.ClientResponse, limit: int) -> bytes:
    if reply.content_length is not None and reply.content_length > limit:
        raise MetricsQueryFailed(f"Prometheus's answer is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise MetricsQueryFailed(f"Prometheus's answer is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _quote(body: bytes) -> str:
    return body.decode("utf-8", "replace").strip()[:_QUOTE_MAX]
