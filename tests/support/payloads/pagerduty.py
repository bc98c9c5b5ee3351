"""Build PagerDuty Webhooks v3 payloads and their signatures for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any


def incident_event(
    event_type: str,
    occurred_at: datetime,
    *,
    incident_id: str = "PT4KHLK",
    status: str | None = None,
    priority: str | None = None,
    urgency: str = "high",
    incident_key: str = "abc123",
    title: str = "The server is on fire.",
    event_id: str | None = None,
) -> dict[str, Any]:
    implied = {
        "incident.triggered": "triggered",
        "incident.acknowledged": "acknowledged",
        "incident.resolved": "resolved",
        "incident.reopened": "triggered",
        "incident.unacknowledged": "triggered",
    }
    return {
        "event": {
            "id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
            "agent": {"id": "PXPGF42", "summary": "Earline Greenholt", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                "number": 1234,
                "status": status or implied.get(event_type, "triggered"),
                "incident_key": incident_key,
                "created_at": occurred_at.isoformat().replace("+00:00", "Z"),
                "title": title,
                "service": {"id": "PIJ90N7", "summary": "lnn-service", "type": "service_reference"},
                "assignees": [],
                "escalation_policy": {"id": "PUS0KTE", "summary": "Default"},
                "teams": [],
                "priority": {"id": "PSO75BM", "summary": priority} if priority else None,
                "urgency": urgency,
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }


def annotation_event(occurred_at: datetime, incident_id: str, content: str) -> dict[str, Any]:
    return {
        "event": {
            "id": str(uuid.uuid4()),
            "event_type": "incident.annotated",
            "resource_type": "incident",
            "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
            "agent": {"id": "PXPGF42", "summary": "Earline Greenholt"},
            "data": {
                "incident": {"id": incident_id, "type": "incident_reference"},
                "content": content,
                "trimmed": False,
                "type": "incident_note",
            },
        }
    }


def sign(body: bytes, *secrets: str) -> str:
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
