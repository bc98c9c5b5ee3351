"""The Events API v2 side of the fake PagerDuty: validating an event as PagerDuty documents it
(developer-docs, "Send an Alert Event"), and the alerts the accepted events make.

Alerts follow PagerDuty's de-duplication rules: a trigger whose ``dedup_key`` names an open
(triggered or acknowledged) alert of the same routing key is added to that alert and opens
no new one; ``acknowledge`` and ``resolve`` apply to the open alert of their routing key and
dedup key, and are dropped when there is none; after a resolve, a trigger with the same key
opens a new alert. So "one trigger in effect" is one alert, however many triggers arrived.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255

Event = dict[str, Any]


def validate(event: object) -> list[str]:
    """PagerDuty's ``errors`` for an event: empty when it would be accepted."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > DEDUP_KEY_MAX:
        errors.append("Length of 'dedup_key' is too long (maximum is 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors += _trigger_errors(event)
    return errors


def _trigger_errors(event: Event) -> list[str]:
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = [
        f"'payload.{name}' is missing or blank"
        for name in ("summary", "source")
        if not isinstance(payload.get(name), str) or not payload[name].strip()
    ]
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
        )
    links = event.get("links")
    if links is not None and (
        not isinstance(links, list)
        or not all(isinstance(link, dict) and link.get("href") for link in links)
    ):
        errors.append("'links' must be an array of objects, each with an 'href'")
    return errors


@dataclass
class Alert:
    """One PagerDuty alert and every event applied to it, in order."""

    dedup_key: str
    routing_key: str
    status: str
    events: list[Event] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status != "resolved"

    @property
    def trigger(self) -> Event:
        """The trigger that opened the alert."""
        return self.events[0]

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.trigger["payload"]
        return payload

    def actions(self) -> list[str]:
        return [str(e["event_action"]) for e in self.events]


@dataclass
class Alerts:
    """Every alert the accepted events made, and the events PagerDuty dropped."""

    all: list[Alert] = field(default_factory=list)
    dropped: list[Event] = field(default_factory=list)

    def apply(self, event: Event) -> str:
        """Apply a valid event; the dedup key PagerDuty answers with."""
        action = event["event_action"]
        key = str(event.get("dedup_key") or uuid.uuid4().hex)
        alert = self._open(event["routing_key"], key)
        if action == "trigger" and alert is None:
            alert = Alert(dedup_key=key, routing_key=event["routing_key"], status="triggered")
            self.all.append(alert)
        if alert is None:
            self.dropped.append(event)
            return key
        alert.events.append(event)
        if action == "acknowledge" and alert.status == "triggered":
            alert.status = "acknowledged"
        elif action == "resolve":
            alert.status = "resolved"
        return key

    def for_key(self, dedup_key: str) -> list[Alert]:
        """The alerts ever opened with ``dedup_key``, oldest first."""
        return [a for a in self.all if a.dedup_key == dedup_key]

    def open_alerts(self) -> list[Alert]:
        return [a for a in self.all if a.open]

    def _open(self, routing_key: str, dedup_key: str) -> Alert | None:
        for alert in self.all:
            if alert.open and alert.routing_key == routing_key and alert.dedup_key == dedup_key:
                return alert
        return None
