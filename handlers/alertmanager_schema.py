"""Alertmanager's webhook payload, version 4, parsed into domain objects. Unknown fields are
accepted: newer Alertmanager versions add some, and refusing them would drop real alerts.

The schema is msgspec Structs rather than pydantic models (which the other payloads use):
intake validates every delivery before acknowledging it, and in an alert storm pydantic's
validation was the largest single cost of an acknowledgement; msgspec decodes and validates
the same document for a small fraction of it (docs/ingest-benchmark.md has the figures).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from bot.domain.incident import Alert, AlertGroup, AlertStatus
from bot.errors import BadRequest
from bot.text import clean
from handlers.body import as_utc, in_utc_range
from handlers.text import bounded_key, clean_map

# How much of a refused timestamp an error message quotes.
MAX_SHOWN = 64
# Alertmanager sends Go's zero time for "no end yet".
_NO_END_BEFORE = datetime(1970, 1, 2, tzinfo=UTC)


class AlertDoc(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One alert as Alertmanager sends it (field names on the wire are camelCase)."""

    status: Literal["firing", "resolved"]
    # Timestamps stay text here and are read by ``_timestamp``: msgspec rounds nanoseconds
    # (Alertmanager sends them) to the nearest microsecond, whereas the stored episodes were
    # always truncated, and an episode's identity includes its start.
    starts_at: str
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    ends_at: str | None = None
    generator_url: str = msgspec.field(default="", name="generatorURL")
    fingerprint: str = ""


class WebhookDoc(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """The notification: a group of alerts and what they have in common."""

    version: str
    group_key: str
    status: Literal["firing", "resolved"]
    alerts: list[AlertDoc]
    truncated_alerts: Annotated[int, msgspec.Meta(ge=0)] = 0
    receiver: str = ""
    group_labels: dict[str, str] = {}
    common_labels: dict[str, str] = {}
    common_annotations: dict[str, str] = {}
    external_url: str = msgspec.field(default="", name="externalURL")


_DECODER = msgspec.json.Decoder(WebhookDoc)


def _fingerprint(doc: AlertDoc) -> str:
    if doc.fingerprint:
        return bounded_key(doc.fingerprint)
    # Older senders omit it; derive one from the label set as Alertmanager does conceptually.
    canonical = json.dumps(sorted(doc.labels.items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()[:16]


def _timestamp(text: str, where: str) -> datetime:
    """RFC 3339 as Alertmanager writes it (``Z``, up to nanoseconds, truncated to µs); a
    time without an offset is taken as UTC. Its UTC value must exist: times are stored and
    compared in UTC, and ``9999-12-31T23:00:00-14:00`` (year 10000 in UTC) once passed here
    only to fail in processing."""
    shown = repr(text[:MAX_SHOWN]) + ("…" if len(text) > MAX_SHOWN else "")
    try:
        moment = as_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise BadRequest(
            f"not an Alertmanager webhook payload: {where}: not an RFC 3339 time: {shown}"
        ) from exc
    return in_utc_range(moment, f"not an Alertmanager webhook payload: {where}: {shown}")


def validate_alertmanager(body: bytes) -> WebhookDoc:
    """Validate a webhook body; ``BadRequest`` says exactly what is wrong.

    Intake calls this before storing a delivery (a sender must hear about a bad payload
    now, not never), and the processor parses the stored body again with the same code.
    """
    try:
        doc = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        # msgspec names the place: "Expected `str`, got `int` - at `$.alerts[0].labels.x`".
        raise BadRequest(f"not an Alertmanager webhook payload: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if doc.version != "4":
        raise BadRequest(f"unsupported Alertmanager webhook version {doc.version!r} (expected 4)")
    for i, alert in enumerate(doc.alerts):
        _timestamp(alert.starts_at, f"$.alerts[{i}].startsAt")
        if alert.ends_at is not None:
            _timestamp(alert.ends_at, f"$.alerts[{i}].endsAt")
    return doc


def _alert(doc: AlertDoc) -> Alert:
    ends_at = _timestamp(doc.ends_at, "endsAt") if doc.ends_at is not None else None
    return Alert(
        fingerprint=_fingerprint(doc),
        status=AlertStatus(doc.status),
        labels=clean_map(doc.labels),
        annotations=clean_map(doc.annotations),
        starts_at=_timestamp(doc.starts_at, "startsAt"),
        ends_at=ends_at if ends_at is not None and ends_at > _NO_END_BEFORE else None,
        generator_url=clean(doc.generator_url),
    )


def parse_alertmanager(body: bytes) -> AlertGroup:
    """Validate and turn into domain objects; ``BadRequest`` says exactly what is wrong."""
    doc = validate_alertmanager(body)
    alerts = tuple(_alert(a) for a in doc.alerts)
    return AlertGroup(
        group_key=bounded_key(doc.group_key),
        status=AlertStatus(doc.status),
        receiver=clean(doc.receiver),
        alerts=alerts,
        group_labels=clean_map(doc.group_labels),
        common_labels=clean_map(doc.common_labels),
        common_annotations=clean_map(doc.common_annotations),
        external_url=clean(doc.external_url),
        truncated_alerts=doc.truncated_alerts,
    )
