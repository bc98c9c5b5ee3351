"""Small builders for storage tests: domain objects with defaults worth overriding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot.domain.incident import Alert, AlertStatus, Delivery, NewIncident, Severity, Source

# Microseconds and a non-UTC offset on purpose: the round trip must keep the exact instant.
T0 = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def at(seconds: float) -> datetime:
    return (T0 + timedelta(seconds=seconds)).astimezone(UTC)


def new_incident(**overrides: Any) -> NewIncident:
    fields: dict[str, Any] = {
        "title": "LNN service down",
        "severity": Severity.P0,
        "source": Source.ALERTMANAGER,
        "service": "lnn",
        "scenario": "service-down",
        "response_minutes": 15,
        "created_at": T0,
        "group_key": '{}:{alertname="LNNServiceDown"}',
        "labels": {"alertname": "LNNServiceDown", "severity": "critical"},
    }
    fields.update(overrides)
    return NewIncident(**fields)


def alert(fingerprint: str = "a1b2c3d4e5f60718", **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "fingerprint": fingerprint,
        "status": AlertStatus.FIRING,
        "labels": {"alertname": "LNNServiceDown", "pod": "lnn-0"},
        "annotations": {"summary": "down"},
        "starts_at": T0,
        "ends_at": None,
        "generator_url": "http://prometheus/graph",
    }
    fields.update(overrides)
    return Alert(**fields)


def delivery(key: str = "delivery-1", source: Source = Source.PAGERDUTY) -> Delivery:
    return Delivery(
        source=source, key=key, received_at=T0, body=b'{"event": 1}', event_type="incident"
    )
