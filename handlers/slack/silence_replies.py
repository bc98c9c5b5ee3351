"""What the person who typed ``/incident silence`` or ``unsilence``, or clicked a silence
request's Approve or Deny, is told: the Slack wording of the silence use cases' results."""

from __future__ import annotations

from bot.services.incidents.silence import SilenceResult
from bot.services.incidents.silence_end import Unsilenced
from bot.services.incidents.silence_requests import SilenceAsked
from bot.text import escape


def _alerts(count: int) -> str:
    return "1 alert" if count == 1 else f"{count} alerts"


def silence_text(result: SilenceResult | SilenceAsked) -> str:
    """The reply to ``/incident silence`` and to an approval of a silence request."""
    if isinstance(result, SilenceAsked):
        return asked_text(result)
    matchers = ", ".join(f"`{escape(str(m))}`" for m in result.matchers)
    line = (
        f"Silenced *#{result.incident.id}*'s alerts in Alertmanager until "
        f"{result.ends_at:%Y-%m-%d %H:%M}Z (silence `{escape(result.silence_id)}`): {matchers}."
    )
    if result.others:
        line += f"\nIt also silences {_alerts(len(result.others))} of other incidents (--broad)."
    if result.approved_by is not None:
        line += "\nYou approved this broad silence; it is made in the asker's name."
    elif result.broad:
        line += "\nIt is broad; as an approver you made it without asking another approver."
    return line + "\n`/incident unsilence` expires it."


def asked_text(asked: SilenceAsked) -> str:
    """The reply to a broad ``/incident silence --broad`` from someone who is not an
    approver: it waits in the incident's thread for an approver."""
    matchers = ", ".join(f"`{escape(str(m))}`" for m in asked.matchers)
    return (
        f"That silence is broad ({escape(asked.why)}), so an approver must approve it: "
        f"request {asked.request} on *#{asked.incident.id}* ({matchers}) waits in the incident's "
        f"thread until {asked.expires_at:%Y-%m-%d %H:%M}Z."
    )


def silence_denied_text(incident_id: int, request: int) -> str:
    """The reply to a click on a silence request's Deny."""
    return f"Silence request {request} on *#{incident_id}* denied: no silence was made."


def unsilence_text(result: Unsilenced) -> str:
    """The reply to ``/incident unsilence``."""
    parts = []
    if result.expired:
        ids = ", ".join(f"`{escape(i)}`" for i in result.expired)
        parts.append(f"Expired the silence of *#{result.incident_id}* in Alertmanager: {ids}.")
    if result.already_ended:
        ids = ", ".join(f"`{escape(i)}`" for i in result.already_ended)
        parts.append(f"Already ended: {ids}.")
    checked = result.checked
    if result.check_error:
        parts.append(
            "Could not ask Alertmanager which silenced alerts still fire: "
            f"{escape(result.check_error)}"
        )
    elif checked is not None and checked.resolved:
        gone = ", ".join(f"`{escape(n)}`" for n in checked.resolved)
        parts.append(f"Resolved while silenced, and resolved now: {gone}.")
        if checked.incident_resolved:
            parts.append(f"That was the last of its alerts: *#{result.incident_id}* is resolved.")
    return "\n".join(parts)
