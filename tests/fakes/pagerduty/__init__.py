"""A fake PagerDuty (Events API v2 and the REST API's on-call lookups) over TLS on loopback,
for the real ``pagerduty`` clients: ``server`` runs it, ``events`` validates events and keeps
the alerts, ``directory`` holds who is on call, ``testing`` seeds the runbook's rotation."""
