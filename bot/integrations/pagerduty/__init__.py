"""PagerDuty, outbound: the outbox's sender of Events API v2 events (``sender``; ``log_sender``
without a routing key) and the on-call directory over the REST API (``oncall``). Inbound v3
webhooks are ``handlers/pagerduty.py``'s."""

from __future__ import annotations

from bot.clock import Clock
from bot.config import Settings
from bot.integrations.pagerduty.log_sender import PagerDutyLogSender
from bot.integrations.pagerduty.oncall import PagerDutyOnCall
from bot.integrations.pagerduty.sender import PagerDutySender

__all__ = ["PagerDutyLogSender", "PagerDutyOnCall", "PagerDutySender", "pagerduty_sender"]


def pagerduty_sender(settings: Settings, *, clock: Clock) -> PagerDutySender | PagerDutyLogSender:
    """The sender for target ``pagerduty``: the real one when ``PAGERDUTY_ROUTING_KEY`` or
    ``PAGERDUTY_ROUTING_KEYS`` is set, else the one that only logs."""
    if not settings.paging_configured:
        return PagerDutyLogSender()
    return PagerDutySender.from_settings(settings, clock=clock)
