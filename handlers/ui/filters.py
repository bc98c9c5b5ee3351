"""The incident list's query parameters (``status``, ``severity``, ``service``), validated:
a value the page does not offer is a 400 page, never a traceback or a silent empty list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from multidict import MultiMapping

from bot.domain.incident import IncidentFilter, IncidentStatus, Severity
from bot.errors import BadRequest

STATUSES = ("open", "triggered", "acknowledged", "resolved", "all")
SEVERITIES = tuple(s.value for s in Severity)
SERVICE_MAX = 200
# How many incidents each table shows (newest first).
OPEN_MAX = 200
RECENT_MAX = 50


@dataclass(frozen=True, slots=True)
class ListQuery:
    """``status`` is one of ``STATUSES`` or ``""`` (open ones, then recently resolved)."""

    status: str = ""
    severity: Severity | None = None
    service: str | None = None

    def tables(self) -> tuple[IncidentFilter | None, IncidentFilter | None]:
        """The filters of the two tables, open and recently resolved (``None``: not shown)."""
        common = IncidentFilter(severity=self.severity, service=self.service, limit=OPEN_MAX)
        open_table: IncidentFilter | None = None
        recent: IncidentFilter | None = None
        if self.status in ("", "open", "all"):
            open_table = replace(common, open_only=True)
        elif self.status in ("triggered", "acknowledged"):
            open_table = replace(common, status=IncidentStatus(self.status))
        if self.status in ("", "resolved", "all"):
            limit = RECENT_MAX if self.status == "" else OPEN_MAX
            recent = replace(common, status=IncidentStatus.RESOLVED, limit=limit)
        return open_table, recent

    def as_params(self) -> Mapping[str, str]:
        """The query as the filter form sends it (for links that keep it)."""
        params = {"status": self.status, "service": self.service or ""}
        params["severity"] = self.severity.value if self.severity else ""
        return {k: v for k, v in params.items() if v}


def one(query: MultiMapping[str], name: str) -> str:
    """A parameter given at most once (``""`` when absent or empty)."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise BadRequest(f"{name} is given more than once")
    return values[0].strip() if values else ""


def parse(query: MultiMapping[str]) -> ListQuery:
    status = one(query, "status")
    if status and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    severity = one(query, "severity")
    if severity and severity not in SEVERITIES:
        raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    service = one(query, "service")
    if len(service) > SERVICE_MAX or not service.isprintable():
        raise BadRequest(f"service must be printable text of at most {SERVICE_MAX} characters")
    return ListQuery(
        status=status, severity=Severity(severity) if severity else None, service=service or None
    )


def part(query: MultiMapping[str], parts: Mapping[str, str]) -> str | None:
    """The template of the fragment asked for (``?part=timeline``), ``None`` for the page."""
    name = one(query, "part")
    if not name:
        return None
    if name not in parts:
        raise BadRequest(f"part must be one of {', '.join(sorted(parts))}")
    return parts[name]
