"""What the handlers need, built by the composition root and stored on the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from bot.clock import Clock
from bot.policy.model import Policy
from bot.ports import Inbox, Metrics, OnCallDirectory, Store
from bot.services.escalation.reach import Reach
from bot.services.graphs.on_demand import IncidentGraphs
from bot.services.incidents.silence import Silencer
from bot.services.remediation.remediator import Remediator


@dataclass(frozen=True, slots=True)
class Deps:
    store: Store
    inbox: Inbox
    policy: Policy
    clock: Clock
    metrics: Metrics
    alertmanager_token: str | None
    api_token: str | None
    pagerduty_secrets: tuple[str, ...]
    remediator: Remediator
    # /readyz says "degraded" once the first-arrived pending delivery is older than this.
    ready_max_inbox_age: float
    # Which ways of telling people are configured (/incident page notes the others).
    reach: Reach = field(default_factory=Reach)
    # PagerDuty's on-call API for /incident oncall; None: the policy's rotation answers.
    oncall: OnCallDirectory | None = None
    # /incident silence and unsilence; None: not wired (an app without them).
    silencer: Silencer | None = None
    # The incident's metric graph on demand (the incident page); None: not wired.
    graphs: IncidentGraphs | None = None
    # Where people reach this firebreak (FIREBREAK_PUBLIC_URL): /incident list and show link
    # each incident's web page, /incident postmortem its postmortem route.
    public_url: str = ""


DEPS = web.AppKey("deps", Deps)
