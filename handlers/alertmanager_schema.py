"""Alertmanager's webhook payload, version 4, parsed into domain objects. Unknown fields are
accepted: newer Alertmanager versions add some, and refusing them would drop real alerts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, ValidationError

from bot.domain import Alert, AlertGroup, AlertStatus
from bot.errors import BadRequest
from handlers.body import Lenient, as_utc
from handlers.text import bounded_key, clean, clean_map

# Alertmanager sends Go's zero time for "no end yet".
_NO_END_BEFORE = datetime(1970, 1, 2, tzinfo=UTC)


class AlertDoc(Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str = ""


class WebhookDoc(Lenient):
    version: str
    group_key: str = Field(alias="groupKey")
    truncated_alerts: int = Field(0, alias="truncatedAlerts", ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field({}, alias="groupLabels")
    common_labels: dict[str, str] = Field({}, alias="commonLabels")
    common_annotations: dict[str, str] = Field({}, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    alerts: list[AlertDoc]


def _fingerprint(doc: AlertDoc) -> str:
    if doc.fingerprint:
        return bounded_key(doc.fingerprint)
    # Older senders omit it; derive one from the label set as Alertmanager does conceptually.
    canonical = json.dumps(sorted(doc.labels.items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()[:16]


def validate_alertmanager(body: bytes) -> WebhookDoc:
    """Validate a webhook body; ``BadRequest`` says exactly what is wrong.

    Intake calls this before storing a delivery (a sender must hear about a bad payload
    now, not never), and the processor parses the stored body again with the same code.
    Pydantic parses the bytes itself, which is several times cheaper than ``json.loads``
    followed by validation of the resulting dicts: this runs on every acknowledgement.
    """
    try:
        doc = WebhookDoc.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise BadRequest(f"body is not valid JSON: {first['msg']}") from exc
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(
            f"not an Alertmanager webhook payload: {where}: {first['msg']}"
            + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")
        ) from exc
    if doc.version != "4":
        raise BadRequest(f"unsupported Alertmanager webhook version {doc.version!r} (expected 4)")
    return doc


def parse_alertmanager(body: bytes) -> AlertGroup:
    """Validate and turn into domain objects; ``BadRequest`` says exactly what is wrong."""
    doc = validate_alertmanager(body)
    alerts = tuple(
        Alert(
            fingerprint=_fingerprint(a),
            status=AlertStatus(a.status),
            labels=clean_map(a.labels),
            annotations=clean_map(a.annotations),
            starts_at=as_utc(a.starts_at),
            ends_at=as_utc(a.ends_at)
            if a.ends_at is not None and as_utc(a.ends_at) > _NO_END_BEFORE
            else None,
            generator_url=clean(a.generator_url),
        )
        for a in doc.alerts
    )
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
