"""Every kind of timeline entry firebreak writes, as stored in the ``kind`` column.

The strings are the ones the timeline has always held, so entries written before the enum
existed read back as the same kinds and their hashes still verify.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """The timeline vocabulary. Add a kind here, its body in ``bodies.py`` or ``actions.py``,
    and its line in ``bot/services/entry_text.py``; ``tests/unit/test_events.py`` checks the rest."""

    INCIDENT_OPENED = "incident.opened"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    INCIDENT_TRIGGERED = "incident.triggered"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_FLAPPED = "incident.flapped"
    SEVERITY_CHANGED = "severity.changed"
    ALERT_FIRING = "alert.firing"
    ALERT_RESOLVED = "alert.resolved"
    ALERT_REPEAT = "alert.repeat"
    ALERTS_TRUNCATED = "alerts.truncated"
    SYMPTOMS_JOINED = "symptoms.joined"
    STORM_FORMED = "storm.formed"
    STORM_JOINED = "storm.joined"
    INCIDENT_MERGED = "incident.merged"
    INCIDENT_SPLIT = "incident.split"
    MAINTENANCE_APPLIED = "maintenance.applied"
    MAINTENANCE_STARTED = "maintenance.started"
    MAINTENANCE_ENDED = "maintenance.ended"
    NOTE = "note"
    COMMANDER_ASSIGNED = "commander.assigned"
    COMMAND_VIEWED = "command.viewed"
    POSTMORTEM_REQUESTED = "postmortem.requested"
    PARTICIPANT_JOINED = "participant.joined"
    PAGERDUTY_LINKED = "pagerduty.linked"
    # One per PagerDuty v3 event type firebreak handles: the raw event, as received.
    PAGERDUTY_TRIGGERED = "pagerduty.triggered"
    PAGERDUTY_ACKNOWLEDGED = "pagerduty.acknowledged"
    PAGERDUTY_UNACKNOWLEDGED = "pagerduty.unacknowledged"
    PAGERDUTY_RESOLVED = "pagerduty.resolved"
    PAGERDUTY_REOPENED = "pagerduty.reopened"
    PAGERDUTY_PRIORITY_UPDATED = "pagerduty.priority_updated"
    PAGERDUTY_ESCALATED = "pagerduty.escalated"
    PAGERDUTY_REASSIGNED = "pagerduty.reassigned"
    PAGERDUTY_ANNOTATED = "pagerduty.annotated"
    ESCALATION_FIRED = "escalation.fired"
    RESPONSE_OVERDUE = "escalation.overdue"
    PAGE_REQUESTED = "page.requested"
    NOTIFICATION_UNCONFIGURED = "notification.unconfigured"
    NOTIFICATION_FAILED = "notification.failed"
    SILENCE_CREATED = "silence.created"
    SILENCE_EXPIRED = "silence.expired"
    SILENCE_REQUESTED = "silence.requested"
    SILENCE_APPROVED = "silence.approved"
    SILENCE_DENIED = "silence.denied"
    SILENCE_REQUEST_EXPIRED = "silence.request_expired"
    SILENCE_REFUSED = "silence.refused"
    SILENCE_CHECKED = "silence.checked"
    ACTION_REQUESTED = "action.requested"
    ACTION_JOINED = "action.joined"
    ACTION_REFUSED = "action.refused"
    ACTION_REQUEST_REFUSED = "action.request_refused"
    ACTION_APPROVAL = "action.approval"
    ACTION_APPROVED = "action.approved"
    ACTION_DENIED = "action.denied"
    ACTION_EXPIRED = "action.expired"
    ACTION_STARTED = "action.started"
    ACTION_APPLIED = "action.applied"
    ACTION_RECONCILING = "action.reconciling"
    ACTION_RECONCILED = "action.reconciled"
    ACTION_SUCCEEDED = "action.succeeded"
    ACTION_FAILED = "action.failed"
    ACTION_DIAGNOSED = "action.diagnosed"
    # The graph of the firing alert (bot.domain.graphs): drawn and queued for the channel,
    # or why there is none.
    GRAPH_ATTACHED = "graph.attached"
    GRAPH_UNAVAILABLE = "graph.unavailable"

    @property
    def is_action(self) -> bool:
        """About a remediation action (the postmortem's "Actions taken")."""
        return self.value.startswith("action.")

    @property
    def is_pagerduty(self) -> bool:
        return self.value.startswith("pagerduty.")

    @classmethod
    def for_pagerduty(cls, event_type: str) -> EventKind:
        """``incident.acknowledged`` (a PagerDuty v3 event type) → ``pagerduty.acknowledged``;
        ``ValueError`` for a type firebreak does not record."""
        prefix = "incident."
        if not event_type.startswith(prefix):
            raise ValueError(f"not a PagerDuty incident event type: {event_type!r}")
        return cls("pagerduty." + event_type[len(prefix) :])

    @classmethod
    def for_status(cls, status: str) -> EventKind:
        """The entry recording an incident's move to ``status`` (triggered, acknowledged,
        resolved)."""
        return cls("incident." + status)


def known_kind(kind: str) -> EventKind | None:
    """The enum member for a stored kind, ``None`` for a string no version of firebreak wrote."""
    try:
        return EventKind(kind)
    except ValueError:
        return None
