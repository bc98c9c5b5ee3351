"""Alertmanager delivery bodies for ``bench.ingest``: single-alert groups and large groups.

Every single-alert delivery is a group of its own, and unless a scenario names a service it
is also a service of its own (``Policy.service_of`` reads the ``service`` label first): more
than a few new incidents for one service within minutes collapse into one storm incident
(issue 17), so groups sharing a service would measure joining a storm, not opening incidents.
"""

from __future__ import annotations

import json

# ``%s`` placeholders, in order: group key, group label, common service, common bench label,
# alert service, alert bench label, fingerprint. ``bench/ingest/wrk.lua`` receives this same
# string and fills every placeholder with the delivery id, so both the open and the closed
# loop send byte-for-byte the same shape (the service is then the delivery id).
BODY_TEMPLATE = (
    '{"version":"4","groupKey":"{}:{bench=\\"%s\\"}","truncatedAlerts":0,"status":"firing",'
    '"receiver":"firebreak","groupLabels":{"bench":"%s"},'
    '"commonLabels":{"alertname":"LNNHighLatency","severity":"critical",'
    '"service":"%s","bench":"%s"},'
    '"commonAnnotations":{"summary":"p99 latency above 100 ms"},'
    '"externalURL":"http://alertmanager.local",'
    '"alerts":[{"status":"firing","labels":{"alertname":"LNNHighLatency",'
    '"severity":"critical","service":"%s","bench":"%s"},'
    '"annotations":{"summary":"p99 latency above 100 ms"},'
    '"startsAt":"2026-11-22T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"http://prometheus.local/graph","fingerprint":"%s"}]}'
)
PLACEHOLDERS = 7
ALERTNAME = "LNNHighLatency"  # critical: a P1 in the shipped policy, told in Slack, no page
STARTS_AT = "2026-11-22T10:00:00Z"
NEVER = "0001-01-01T00:00:00Z"


def delivery_body(
    delivery_id: str, service: str | None = None, alertname: str = ALERTNAME
) -> bytes:
    """One firing alert in a group of its own; ``delivery_id`` is also its fingerprint and
    must be unique within the database. Without ``service`` the alert is a service of its own."""
    svc = service or delivery_id
    ids = (delivery_id, delivery_id, svc, delivery_id, svc, delivery_id, delivery_id)
    template = BODY_TEMPLATE
    if alertname != ALERTNAME:
        template = template.replace(
            f'"alertname":"{ALERTNAME}"', f'"alertname":{json.dumps(alertname)}'.replace("%", "%%")
        )
    return (template % ids).encode()


def group_body(group_id: str, alerts: int, service: str | None = None) -> bytes:
    """Group ``group_id`` with ``alerts`` firing alerts (fingerprints ``<group_id>-a<n>``), as
    Alertmanager sends it the first time and re-sends it unchanged every group_interval."""
    svc = service or group_id
    common = {"alertname": ALERTNAME, "severity": "critical", "service": svc}
    annotations = {"summary": "p99 latency above 100 ms"}
    doc = {
        "version": "4",
        "groupKey": f'{{}}:{{bench="{group_id}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"bench": group_id},
        "commonLabels": {**common, "bench": group_id},
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.local",
        "alerts": [
            {
                "status": "firing",
                "labels": {**common, "bench": group_id, "instance": f"pod-{n}"},
                "annotations": annotations,
                "startsAt": STARTS_AT,
                "endsAt": NEVER,
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": f"{group_id}-a{n}",
            }
            for n in range(alerts)
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()
