"""The one exception tree. Adapters translate library errors into these at the boundary;
handlers map them to HTTP statuses or Slack replies in one place."""

from __future__ import annotations


class FirebreakError(Exception):
    """Base of every error firebreak raises on purpose."""


class ConfigError(FirebreakError):
    """Settings or a policy file are invalid; start-up stops with this message."""


class PolicyError(ConfigError):
    """A runbook policy is invalid. ``problems`` holds one line per error, with line numbers."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class AuthError(FirebreakError):
    """The request did not prove who sent it (token, signature)."""


class BadRequest(FirebreakError):
    """The request body is not what the endpoint accepts. The message says why."""


class NotFound(FirebreakError):
    """The thing asked for does not exist."""


class Conflict(FirebreakError):
    """The state changed under the caller; retrying with fresh state may work."""


class StorageUnavailable(FirebreakError):
    """The database could not be reached or refused the write; senders should retry (503)."""


class Overloaded(FirebreakError):
    """This process serves as much of something as it is allowed to (the live event
    streams): refused with 503 and ``Retry-After: retry_after`` seconds, or elsewhere."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityViolation(FirebreakError):
    """Stored data contradicts itself, e.g. a broken timeline hash chain."""


class UnknownEventKind(IntegrityViolation):
    """A timeline entry of a kind that is not in ``bot.domain.events.EventKind`` was written."""


class TooManyAttempts(FirebreakError):
    """Too many failed attempts from one client (the web page's sign-in): refused (429) for
    ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(FirebreakError):
    """The caller is known but not allowed to do this (not an approver, own request, kube-system).

    Slack replies with an ephemeral refusal; the refusal itself lands on the timeline.
    """


class ClusterError(FirebreakError):
    """The Kubernetes API refused or failed a call; the message carries the API's reason."""


class ClusterUnavailable(ClusterError):
    """The Kubernetes API could not be reached or answered 5xx; a later retry may work."""


class DryRunRejected(ClusterError):
    """The server-side dry run (``dryRun=All``) refused the change; nothing was applied."""


class TargetChanged(ClusterError):
    """The deployment moved since the approval snapshot (or a precondition failed with 409)."""


class UsageError(BadRequest):
    """A chat command was mistyped; the message is the usage text to show the user."""


class PayloadTooLarge(BadRequest):
    """The body is larger than the endpoint accepts (413); it was not read past the limit."""


class UnsupportedEncoding(BadRequest):
    """The body is compressed (``Content-Encoding``), which no sender of ours does (415)."""


class DrillFailed(FirebreakError):
    """``firebreak drill`` could not reach the LNN service's fault switch, or was refused."""


class UpstreamError(FirebreakError):
    """A service firebreak asks (PagerDuty's REST API) failed or could not be reached."""


class MetricsQueryFailed(UpstreamError):
    """The configured Prometheus could not be reached, timed out, or refused a query."""


class GraphUnavailable(FirebreakError):
    """No graph can be drawn: ``reason`` (a ``bot.domain.graphs.GraphReason`` value) says
    which case, the message says why in words people read."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)
