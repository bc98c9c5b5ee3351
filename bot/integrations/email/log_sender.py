"""The outbox's sender for target ``email`` without ``FIREBREAK_SMTP_URL``: nothing is sent;
each email is written to the log (recipients, subject, the body's first lines) and its row is
marked ``unconfigured`` with the reason ``email not configured``."""

from __future__ import annotations

import logging

from bot.domain.incident import JSON
from bot.domain.outbox import OutboundCall, Outcome, SendResult
from bot.ports import Lease

log = logging.getLogger("firebreak.email")

REASON = "email not configured"
BODY_LINES = 8
INDENT = "    | "


def describe(call: OutboundCall) -> str:
    """The email as one multi-line log text: who, what, and how the body begins."""
    args: JSON = call.args
    to = args.get("to")
    recipients = ", ".join(str(a) for a in to) if isinstance(to, list) else str(to or "-")
    # Printed, not sent: still no line breaks from the arguments into the record's head.
    subject = " ".join(str(args.get("subject", "")).split())
    incident = f"incident {call.incident_id}: " if call.incident_id is not None else ""
    lines = str(args.get("body", "")).splitlines()
    shown = lines[:BODY_LINES] + (["…"] if len(lines) > BODY_LINES else [])
    head = f"{incident}would email {' '.join(recipients.split())}: {subject}"
    return head + "".join(f"\n{INDENT}{line}" for line in shown)


class EmailLogSender:
    """The email target while SMTP is not configured: every email is logged, none sent."""

    configured = False

    async def send(self, method: str, args: JSON, *, lease: Lease | None = None) -> SendResult:
        """A refusal, sending nothing: the worker never calls it while ``configured`` is
        false, and refusing is the safe answer if it ever did."""
        return SendResult(Outcome.FAILED, method, error="not_configured")

    def skip(self, call: OutboundCall) -> str:
        """Log the email; the reason kept on its row."""
        log.info("FIREBREAK_SMTP_URL is not set; %s", describe(call))
        return REASON
