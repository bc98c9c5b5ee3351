"""Domain incidents with defaults worth overriding, for tests that render or describe one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.incident import Incident, IncidentStatus, Severity, Source

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def incident(**changes: Any) -> Incident:
    """A stored Alertmanager incident (id 42, P1, triggered at ``T0``), with ``changes``."""
    base = Incident(
        id=42,
        title="LNNHighLatency: p99 above 100 ms",
        severity=Severity.P1,
        status=IncidentStatus.TRIGGERED,
        source=Source.ALERTMANAGER,
        service="lnn-service",
        scenario="high-latency",
        response_minutes=60,
        created_at=T0,
        updated_at=T0,
        labels={"alertname": "LNNHighLatency"},
    )
    return replace(base, **changes)
