"""What the person who clicked or typed is told about a remediation: the Slack wording of
the remediation use cases' results (the use cases return data, not text)."""

from __future__ import annotations

from bot.domain.action import ActionRequest
from bot.domain.deployment import Diagnosis
from bot.services.remediation.approve import ApprovalResult
from bot.services.remediation.request import RequestResult


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
