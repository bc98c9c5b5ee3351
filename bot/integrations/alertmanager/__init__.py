"""Alertmanager's API v2, asked by firebreak (its webhooks arrive in ``handlers/``)."""
