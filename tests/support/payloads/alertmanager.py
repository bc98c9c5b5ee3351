"""Build Alertmanager webhook v4 payloads (as dicts, bytes or domain groups) for tests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from bot.domain.incident import AlertGroup, Delivery, Source
from handlers.alertmanager_schema import parse_alertmanager

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ZERO_TIME = "0001-01-01T00:00:00Z"
# alertname -> (severity label, the default policy's severity), ordered most severe first:
# the kinds the storm and replica tests mix.
KINDS = [
    ("LNNServiceDown", "critical", "P0"),
    ("LNNHighLatency", "critical", "P1"),
    ("LNNHighMemory", "warning", "P2"),
]


def alert(
    alertname: str,
    severity: str | None = "critical",
    *,
    status: str = "firing",
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": alertname, **labels}
    if severity is not None:
        all_labels["severity"] = severity
    fingerprint = hashlib.sha256(json.dumps(sorted(all_labels.items())).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{alertname} is happening"},
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": ends_at.isoformat().replace("+00:00", "Z") if ends_at else ZERO_TIME,
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }


def webhook(
    group_key: str, alerts: list[dict[str, Any]], *, truncated: int = 0, **extra: Any
) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    common = dict(alerts[0]["labels"]) if alerts else {}
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a["labels"].get(k) == v}
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": "firebreak",
        "groupLabels": {"alertname": common.get("alertname", "")},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": alerts,
        **extra,
    }


def resolved(a: dict[str, Any], ends_at: datetime) -> dict[str, Any]:
    return {**a, "status": "resolved", "endsAt": ends_at.isoformat().replace("+00:00", "Z")}


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def group(payload: dict[str, Any]) -> AlertGroup:
    return parse_alertmanager(body(payload))


def delivery(key: str) -> Delivery:
    """An Alertmanager delivery of a minimal body, received at ``T0``, as the inbox stores it."""
    return Delivery(Source.ALERTMANAGER, key, T0, b'{"version": "4"}', "firing")
