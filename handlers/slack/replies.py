"""What the person who clicked or typed is told about a remediation, a page by hand and who
is on call: the Slack wording of the use cases' results (the use cases return data, not
text)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.action import ActionRequest
from bot.domain.deployment import Diagnosis
from bot.domain.escalation import OnCall, Recipient, Via
from bot.services.escalation.reach import SETTING
from bot.services.incidents.oncall import Fallback, OnCallAnswer
from bot.services.incidents.page import PageResult
from bot.services.remediation.approve import ApprovalResult
from bot.services.remediation.request import RequestResult
from bot.text import escape, inert, is_group_id, is_user_id

_NONE = "—"


def requested_text(result: RequestResult) -> str:
    """The reply to whoever asked for an action."""
    action = result.action
    if result.created:
        return f"Requested {action.describe()} (#{action.id}); an approver must approve it."
    return (
        f"{action.describe()} is already requested (#{action.id}, {action.state.value}); "
        "your request joins it."
    )


def approval_text(result: ApprovalResult) -> str:
    """The reply to an approver's click."""
    return result.message


def denied_text(action: ActionRequest) -> str:
    return f"Denied: {action.describe()}"


def diagnosing_text(diagnosis: Diagnosis) -> str:
    """The reply to a suggested diagnose button; the diagnosis itself goes to the thread."""
    return f"Diagnosing {diagnosis.target}; see the thread."


def suggested_text(result: RequestResult | Diagnosis) -> str:
    """The reply to a suggested-action button: a request, or a diagnose run at once."""
    if isinstance(result, Diagnosis):
        return diagnosing_text(result)
    return requested_text(result)


def mention(ident: str) -> str:
    """A Slack mention of a user (``U…``/``W…``) or user group (``S…``) id; anything else
    as inert text."""
    if is_user_id(ident):
        return f"<@{ident}>"
    if is_group_id(ident):
        return f"<!subteam^{ident}>"
    return escape(ident)


def _told(recipient: Recipient) -> str:
    if recipient.via is Via.SLACK:
        return mention(recipient.address)
    if recipient.via is Via.EMAIL:
        return f"email to {escape(recipient.address)}"
    service = f"service {escape(recipient.address)}" if recipient.address else "the default service"
    return f"new PagerDuty alert on {service} for {escape(recipient.who)}"


_WAY = {Via.PAGE: "Paging", Via.EMAIL: "Email"}
# A page rings whoever the PagerDuty service's escalation policy names, not a person
# firebreak picks: say so rather than promise a phone.
WHO_IS_CALLED = "PagerDuty's escalation policy for that service decides whom the alert calls."


def page_text(result: PageResult) -> str:
    """The reply to ``/incident page``: who is told how, and what is not configured. A
    page is a new alert on the member's PagerDuty service (or the default one), whose
    escalation policy decides whom it calls."""
    names = ", ".join(escape(m.name or m.key) for m in result.members)
    who = f" ({names})" if names else ""
    told = "; ".join(_told(r) for r in result.recipients)
    lines = [f"Paged for *#{result.incident.id}*{who}: {told}."]
    if any(r.via is Via.PAGE for r in result.recipients):
        lines.append(WHO_IS_CALLED)
    lines += [
        f"{_WAY[via]} is not configured (set {SETTING[via]}): on the timeline, but not sent."
        for via in result.unconfigured
        if via in _WAY
    ]
    return "\n".join(lines)


def _until(moment: datetime | None) -> str:
    return f"until {moment:%Y-%m-%d %H:%M}Z" if moment is not None else f"until {_NONE}"


def on_call_line(entry: OnCall) -> str:
    """One level: level, name, email, Slack mentions, until when."""
    mentions = " ".join(mention(ident) for ident in entry.slack) or _NONE
    return (
        # Names and emails come from PagerDuty: inert, so a name cannot ping or link.
        f"• Level {entry.level} · {inert(entry.name) or _NONE} · "
        f"{inert(entry.email) or _NONE} · {mentions} · {_until(entry.until)}"
    )


def oncall_text(answer: OnCallAnswer, service: str | None) -> str:
    """The reply to ``/incident oncall``: where the answer comes from, then one line per
    level."""
    scope = f" for `{escape(service)}`" if service else ""
    match answer.fallback:
        case Fallback.NONE:
            head = f"*On call now{scope}*, as PagerDuty says:"
        case Fallback.UNCONFIGURED:
            head = (
                f"*On call{scope}*, from the policy's rotation (PagerDuty is not asked: "
                "set PAGERDUTY_API_TOKEN):"
            )
        case Fallback.FAILED:
            head = (
                f":warning: PagerDuty could not be asked ({escape(answer.error)}). "
                f"*On call{scope}*, from the policy's rotation:"
            )
    if not answer.service_matched:
        head += (
            f"\nNo one in the rotation is paged through `{escape(service or '')}`; "
            "this is the whole rotation."
        )
    if not answer.on_call:
        nobody = (
            "PagerDuty lists nobody."
            if answer.fallback is Fallback.NONE
            else "The policy has no on-call rotation (`rotation:` in the policy file)."
        )
        return f"{head}\n{nobody}"
    return "\n".join([head, *(on_call_line(entry) for entry in answer.on_call)])
