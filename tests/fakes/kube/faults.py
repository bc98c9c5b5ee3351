"""Failure injection and the request log of the fake Kubernetes API."""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.fakes.kube.errors import KubeError, conflict


@dataclasses.dataclass(slots=True)
class RecordedKubeRequest:
    """One HTTP request the fake received, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    content_type: str
    status: int = 0

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


class KubeFaults:
    """What the next requests get instead of a normal answer, and how rollouts misbehave."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Remove every fault, and let hung rollouts proceed."""
        self._conflicts = 0
        self._conflicts_on_dry_run = False
        self._errors: list[int] = []
        self._dry_run_rejection: KubeError | None = None
        self.hang_new_rollouts = False
        self.hung_replicasets: set[str] = set()

    def conflicts(self, n: int, *, include_dry_run: bool = False) -> None:
        """Answer the next ``n`` writes with 409 Conflict, as if someone else wrote first.

        Dry runs do not count unless ``include_dry_run``, so "dry run passes, then the write
        conflicts" is easy to set up.
        """
        self._conflicts = n
        self._conflicts_on_dry_run = include_dry_run

    def unavailable(self, n: int, *, status: int = 503) -> None:
        """Answer the next ``n`` requests (any verb, discovery included) with ``status``."""
        self._errors = [status] * n

    def server_errors(self, n: int) -> None:
        """Answer the next ``n`` requests with 500 Internal Server Error."""
        self.unavailable(n, status=500)

    def reject_dry_run(
        self, message: str, *, webhook: str | None = "policy.example.com", code: int = 400
    ) -> None:
        """Refuse every ``dryRun=All`` write like a validating admission webhook does.

        The Status message reads ``admission webhook "<webhook>" denied the request:
        <message>`` (just ``message`` when ``webhook`` is None).
        """
        text = (
            f'admission webhook "{webhook}" denied the request: {message}' if webhook else message
        )
        self._dry_run_rejection = KubeError(code, text)

    def hang_rollout(self) -> None:
        """Pods of ReplicaSets created from now on never become ready (crash-looping), so the
        rollout stalls until its progress deadline passes. ``release_rollout`` undoes it."""
        self.hang_new_rollouts = True

    def release_rollout(self) -> None:
        self.hang_new_rollouts = False
        self.hung_replicasets.clear()

    # -- used by the server ----------------------------------------------------------------
    def before_request(self) -> KubeError | None:
        if not self._errors:
            return None
        status = self._errors.pop(0)
        if status == 503:
            return KubeError(503, "the server is currently unable to handle the request")
        return KubeError(status, "Internal error occurred: injected fault")

    def before_write(self, *, resource: str, group: str, name: str, dry_run: bool) -> None:
        if dry_run and self._dry_run_rejection is not None:
            raise self._dry_run_rejection
        if self._conflicts > 0 and (self._conflicts_on_dry_run or not dry_run):
            self._conflicts -= 1
            raise conflict(resource, group, name)
