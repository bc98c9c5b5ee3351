"""Rows to domain objects. Enum columns hold the enums' string values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from bot.domain.actor import Actor
from bot.domain.incident import (
    AlertEpisode,
    AlertStatus,
    Incident,
    IncidentStatus,
    Severity,
    Source,
    TimelineEntry,
)


def to_incident(row: Row[Any]) -> Incident:
    return Incident(
        id=row.id,
        title=row.title,
        severity=Severity(row.severity),
        status=IncidentStatus(row.status),
        source=Source(row.source),
        service=row.service,
        scenario=row.scenario,
        response_minutes=row.response_minutes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        group_key=row.group_key,
        pagerduty_id=row.pagerduty_id,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        status_changed_at=row.status_changed_at,
        labels=dict(row.labels),
        commander=row.commander,
        acknowledged_by=row.acknowledged_by,
        resolved_by=row.resolved_by,
        flap_count=row.flap_count,
        silenced_until=row.silenced_until,
        merged_into=row.merged_into,
        storm_key=row.storm_key,
    )


def to_episode(row: Row[Any]) -> AlertEpisode:
    return AlertEpisode(
        id=row.id,
        incident_id=row.incident_id,
        fingerprint=row.fingerprint,
        status=AlertStatus(row.status),
        severity=Severity(row.severity),
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        generator_url=row.generator_url,
        group_key=row.group_key,
    )


def to_entry(row: Row[Any]) -> TimelineEntry:
    return TimelineEntry(
        incident_id=row.incident_id,
        seq=row.seq,
        at=row.at,
        actor=Actor.parse(row.actor),
        kind=row.kind,
        body=row.body,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
