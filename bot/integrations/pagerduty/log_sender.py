"""The outbox's sender for target ``pagerduty`` without a routing key: nothing is sent; each
event is written to the log as the page it would have been, and its row is marked
``unconfigured`` with the reason "paging not configured" (what the timeline says)."""

from __future__ import annotations

import logging

from bot.domain.incident import JSON
from bot.domain.outbox import OutboundCall, Outcome, SendResult
from bot.ports import Lease

log = logging.getLogger("firebreak.pagerduty")

REASON = "paging not configured"


def describe(call: OutboundCall) -> str:
    """The page as one log line: the action, its dedup key, the service, and for a trigger
    its severity and summary."""
    args: JSON = call.args
    incident = f"incident {call.incident_id}: " if call.incident_id is not None else ""
    service = str(args.get("service") or "") or "the default service"
    text = f"{incident}would {call.method} {args.get('dedup_key', '-')} on {service}"
    if call.method == "trigger":
        text += f" [{args.get('severity', '-')}] {args.get('summary', '-')}"
    return text


class PagerDutyLogSender:
    """The PagerDuty target while no routing key is set: every event is logged, none sent."""

    configured = False

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        """A refusal, sending nothing: the worker never calls it while ``configured`` is
        false, and refusing is the safe answer if it ever did."""
        return SendResult(Outcome.FAILED, method, error="not_configured")

    def skip(self, call: OutboundCall) -> str:
        """Log the page ``call`` would have sent; the reason kept on its row."""
        log.info("PagerDuty is not configured (PAGERDUTY_ROUTING_KEY); %s", describe(call))
        return REASON
