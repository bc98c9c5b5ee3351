"""The REST API v2 side of the fake PagerDuty: users, escalation policies, services and who
is on call, served in the shapes PagerDuty documents (``GET /oncalls``,
``GET /escalation_policies``, ``GET /services``) with classic pagination.

Filters are PagerDuty's: ``escalation_policy_ids[]``, ``user_ids[]`` and ``schedule_ids[]``
on ``/oncalls`` (repeated parameters, any of which matches), ``query`` (a case-insensitive
substring of the name) on the indexes, and ``include[]=users`` to get full users (with their
email) instead of references.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from multidict import MultiMapping

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
HTML = "https://fake.pagerduty.example"

Query = MultiMapping[str]
T = TypeVar("T")


class InvalidInput(ValueError):
    """A 400 ``Invalid Input Provided`` with PagerDuty's ``errors``."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Named:
    """An escalation policy or a schedule: an id and a name."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    escalation_policy: Named


@dataclass(frozen=True, slots=True)
class OnCallEntry:
    policy: Named
    level: int
    user: User
    schedule: Named | None
    start: str | None
    end: str | None


@dataclass
class Directory:
    """What the REST API knows; tests add to it, the server reads it."""

    base_url: str = ""
    users: list[User] = field(default_factory=list)
    policies: list[Named] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    oncalls: list[OnCallEntry] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

    def add_user(self, name: str, email: str) -> User:
        user = User(self._id("PU"), name, email)
        self.users.append(user)
        return user

    def add_policy(self, name: str) -> Named:
        policy = Named(self._id("PE"), name)
        self.policies.append(policy)
        return policy

    def add_service(self, name: str, policy: Named) -> Service:
        service = Service(self._id("PS"), name, policy)
        self.services.append(service)
        return service

    def add_oncall(
        self,
        policy: Named,
        level: int,
        user: User,
        *,
        schedule: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> OnCallEntry:
        """``user`` on call at ``level`` of ``policy``, through a schedule of that name (a new
        one) or directly (``schedule`` None: permanent, no start or end)."""
        named = Named(self._id("PSC"), schedule) if schedule else None
        entry = OnCallEntry(policy, level, user, named, start, end)
        self.oncalls.append(entry)
        return entry

    # -- rendering ---------------------------------------------------------------------------
    def reference(self, kind: str, path: str, ident: str, name: str) -> dict[str, Any]:
        return {
            "id": ident,
            "type": f"{kind}_reference",
            "summary": name,
            "self": f"{self.base_url}/{path}/{ident}",
            "html_url": f"{HTML}/{path}/{ident}",
        }

    def user_json(self, user: User, *, full: bool) -> dict[str, Any]:
        body = self.reference("user", "users", user.id, user.name)
        if full:
            body.update(type="user", name=user.name, email=user.email)
        return body

    def oncall_json(self, entry: OnCallEntry, include: Sequence[str]) -> dict[str, Any]:
        schedule = entry.schedule
        return {
            "escalation_policy": self.reference(
                "escalation_policy", "escalation_policies", entry.policy.id, entry.policy.name
            ),
            "escalation_level": entry.level,
            "schedule": self.reference("schedule", "schedules", schedule.id, schedule.name)
            if schedule
            else None,
            "user": self.user_json(entry.user, full="users" in include),
            "start": entry.start,
            "end": entry.end,
        }

    def policy_json(self, policy: Named) -> dict[str, Any]:
        body = self.reference("escalation_policy", "escalation_policies", policy.id, policy.name)
        return {**body, "type": "escalation_policy", "name": policy.name}

    def service_json(self, service: Service) -> dict[str, Any]:
        body = self.reference("service", "services", service.id, service.name)
        policy = service.escalation_policy
        return {
            **body,
            "type": "service",
            "name": service.name,
            "escalation_policy": self.reference(
                "escalation_policy", "escalation_policies", policy.id, policy.name
            ),
        }

    # -- the three indexes -------------------------------------------------------------------
    def list_oncalls(self, query: Query) -> dict[str, Any]:
        policies = set(query.getall("escalation_policy_ids[]", []))
        users = set(query.getall("user_ids[]", []))
        schedules = set(query.getall("schedule_ids[]", []))
        include = query.getall("include[]", [])
        found = [
            e
            for e in self.oncalls
            if (not policies or e.policy.id in policies)
            and (not users or e.user.id in users)
            and (not schedules or (e.schedule is not None and e.schedule.id in schedules))
        ]
        return paginate("oncalls", found, query, lambda e: self.oncall_json(e, include))

    def list_policies(self, query: Query) -> dict[str, Any]:
        found = [p for p in self.policies if _matches(p.name, query)]
        return paginate("escalation_policies", found, query, self.policy_json)

    def list_services(self, query: Query) -> dict[str, Any]:
        found = [s for s in self.services if _matches(s.name, query)]
        return paginate("services", found, query, self.service_json)


def _matches(name: str, query: Query) -> bool:
    text = query.get("query", "")
    return text.lower() in name.lower()


def paginate(
    wrapper: str, items: Sequence[T], query: Query, render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """Classic pagination: ``limit`` (default 25, at most 100), ``offset``, ``more``, and
    ``total`` only when ``total=true`` was asked."""
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
        offset = int(query.get("offset", 0))
    except ValueError as exc:
        raise InvalidInput("Limit and offset must be numbers") from exc
    if limit < 1 or offset < 0:
        raise InvalidInput("Limit must be positive and offset not negative")
    limit = min(limit, MAX_LIMIT)
    page = items[offset : offset + limit]
    return {
        wrapper: [render(item) for item in page],
        "limit": limit,
        "offset": offset,
        "more": offset + len(page) < len(items),
        "total": len(items) if query.get("total") == "true" else None,
    }
