"""Runs one parsed ``/incident`` command and returns the ephemeral reply (Slack mrkdwn).

Every command about an incident lands on its timeline with the person who typed it: changes as
their own entries, reads (show, timeline) as ``command.viewed``, and the postmortem as
``postmortem.requested``, which posts it into the incident's channel as a file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.actor import Actor
from bot.domain.events import CommandViewed
from bot.domain.incident import Incident, IncidentFilter, TimelineEntry
from bot.domain.links import incident_page
from bot.errors import BadRequest
from bot.policy.targets import resolve_target
from bot.services.entry_text import describe
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.lookup import incident_for
from bot.services.incidents.postmortem import request_postmortem
from bot.services.incidents.queries import alert_labels, list_incidents, show_incident
from bot.services.incidents.updates import (
    acknowledge,
    add_note,
    assign_commander,
    record,
    resolve,
    set_severity,
)
from bot.text import escape, link
from handlers.deps import Deps
from handlers.slack.actor import slack_actor
from handlers.slack.command import commands as cmd
from handlers.slack.command.maintenance import run_maintenance
from handlers.slack.command.paging import run_oncall, run_page
from handlers.slack.command.parse import HELP_TEXT, USAGE, parse_command
from handlers.slack.command.silencing import run_silence, run_unsilence
from handlers.slack.command.storms import run_merge, run_split
from handlers.slack.replies import requested_text

LIST_MAX = 20
TIMELINE_MAX = 40


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who typed the command, and where."""

    user: str
    channel: str

    @property
    def actor(self) -> Actor:
        """The user as the core names actors."""
        return slack_actor(self.user)


def _line(incident: Incident, public_url: str = "") -> str:
    """One incident in a reply; its number links to its web page when there is a public URL."""
    page = incident_page(public_url, incident.id)
    number = f"*{link(page, f'#{incident.id}')}*" if page else f"*#{incident.id}*"
    return (
        f"{number} {incident.severity.value} · {incident.status.value} · "
        f"{escape(incident.service)} · {escape(incident.title)}"
    )


def _timeline_lines(entries: Sequence[TimelineEntry]) -> list[str]:
    shown = entries[-TIMELINE_MAX:]
    lines = [
        f"`{e.seq:>3}` {e.at:%Y-%m-%d %H:%M:%S}Z · {escape(str(e.actor))} · {describe(e, text=escape)}"
        for e in shown
    ]
    if len(entries) > len(shown):
        lines.insert(0, f"_{len(entries) - len(shown)} earlier entries not shown_")
    return lines


async def _viewed(deps: Deps, incident_id: int, ctx: CommandContext, command: str) -> None:
    await record(
        deps.store,
        incident_id,
        actor=ctx.actor,
        at=deps.clock.now(),
        event=CommandViewed(command=command),
    )


async def run_command(deps: Deps, text: str, ctx: CommandContext) -> str:
    """Parse and run; ``UsageError``/``BadRequest``/``NotFound`` propagate to the listener."""
    return await execute(deps, parse_command(text), ctx)


async def execute(deps: Deps, command: cmd.Command, ctx: CommandContext) -> str:
    now = deps.clock.now()
    store = deps.store
    match command:
        case cmd.Help(topic=topic):
            return USAGE.get(topic, HELP_TEXT) if topic else HELP_TEXT
        case cmd.ListIncidents(scope=scope):
            found = await list_incidents(
                store, IncidentFilter(open_only=scope == "open", limit=LIST_MAX)
            )
            if not found:
                return "No open incidents." if scope == "open" else "No incidents yet."
            return "\n".join(_line(i, deps.public_url) for i in found)
        case cmd.Show(incident_id=incident_id):
            detail = await show_incident(store, incident_id)
            await _viewed(deps, incident_id, ctx, "show")
            firing = sum(1 for a in detail.alerts if a.status.value == "firing")
            return (
                f"{_line(detail.incident, deps.public_url)}\nscenario"
                f" {escape(detail.incident.scenario)}, "
                f"{len(detail.alerts)} alerts ({firing} firing), "
                f"{len(detail.timeline)} timeline entries"
            )
        case cmd.Declare(title=title, severity=severity, service=service):
            incident = await declare_incident(
                store,
                deps.policy,
                title=title,
                actor=ctx.actor,
                at=now,
                severity=severity,
                service=service,
            )
            return f"Declared {_line(incident)}"
        case cmd.Ack(incident_id=given):
            incident = await acknowledge(
                store,
                await incident_for(store, given, channel=ctx.channel),
                actor=ctx.actor,
                at=now,
            )
            return f"Acknowledged {_line(incident)}"
        case cmd.Resolve(incident_id=given, reason=reason):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            incident = await resolve(store, incident_id, actor=ctx.actor, at=now, reason=reason)
            return f"Resolved {_line(incident)}"
        case cmd.SetSeverity(severity=severity, incident_id=given):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            incident = await set_severity(store, incident_id, severity, actor=ctx.actor, at=now)
            return f"Severity set: {_line(incident)}"
        case cmd.SetCommander(user_id=user, incident_id=given):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            await assign_commander(store, incident_id, user, actor=ctx.actor, at=now)
            return f"<@{user}> is the incident commander of #{incident_id}"
        case cmd.Note(text=note, incident_id=given):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            await add_note(store, incident_id, note, actor=ctx.actor, at=now)
            return f"Noted on #{incident_id}."
        case cmd.Timeline(incident_id=given):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            detail = await show_incident(store, incident_id)
            await _viewed(deps, incident_id, ctx, "timeline")
            return "\n".join([_line(detail.incident), *_timeline_lines(detail.timeline)])
        case cmd.Postmortem(incident_id=given):
            incident_id = await incident_for(store, given, channel=ctx.channel)
            filename = await request_postmortem(store, incident_id, actor=ctx.actor, at=now)
            link = f"{deps.public_url.rstrip('/')}/api/incidents/{incident_id}/postmortem"
            return (
                f"Posting the postmortem of #{incident_id} into the incident's channel as "
                f"`{filename}`. It is also at `GET {link}` (with the API token)."
            )
        case cmd.Page():
            return await run_page(deps, command, actor=ctx.actor, channel=ctx.channel)
        case cmd.OnCall():
            return await run_oncall(deps, command)
        case cmd.Silence():
            return await run_silence(deps, command, actor=ctx.actor, channel=ctx.channel)
        case cmd.Unsilence():
            return await run_unsilence(deps, actor=ctx.actor, channel=ctx.channel)
        case cmd.MaintenanceList() | cmd.MaintenanceStart() | cmd.MaintenanceEnd():
            return await run_maintenance(deps, command, actor=ctx.actor)
        case cmd.Split():
            return await run_split(deps, command, actor=ctx.actor, channel=ctx.channel)
        case cmd.Merge():
            return await run_merge(deps, command, actor=ctx.actor, channel=ctx.channel)
        case _:
            return await execute_action_command(deps, command, ctx)


async def execute_action_command(deps: Deps, command: cmd.Command, ctx: CommandContext) -> str:
    """scale, rollback, restart, diagnose: typed in an incident's channel (or naming none,
    they need one), each a request an approver must approve; diagnose runs at once. Without
    ``-n`` they act in the namespace the incident's alerts name (``bot.policy.targets``,
    the same rule as the card's buttons), else the policy's default namespace."""
    remediator = deps.remediator
    incident_id = await incident_for(deps.store, None, channel=ctx.channel)
    namespace_default = await _incident_namespace(deps, incident_id)
    match command:
        case cmd.Scale(deployment=name, replicas=replicas, namespace=ns):
            result = await remediator.request(
                incident_id,
                "scale",
                ns or namespace_default,
                name,
                actor=ctx.actor,
                replicas=replicas,
            )
        case cmd.Rollback(deployment=name, namespace=ns, to_revision=revision):
            result = await remediator.request(
                incident_id,
                "rollback",
                ns or namespace_default,
                name,
                actor=ctx.actor,
                to_revision=revision,
            )
        case cmd.Restart(deployment=name, namespace=ns):
            result = await remediator.request(
                incident_id, "restart", ns or namespace_default, name, actor=ctx.actor
            )
        case cmd.Diagnose(deployment=name, namespace=ns):
            diagnosis = await remediator.diagnose(
                incident_id, ns or namespace_default, name, actor=ctx.actor
            )
            progress = diagnosis.progress
            return (
                f"`{escape(str(diagnosis.target))}`: {progress.available}/{progress.desired} "
                f"available, revision {diagnosis.snapshot.revision}; details in the thread."
            )
        case _:
            raise BadRequest(f"firebreak cannot run {type(command).__name__}")
    return requested_text(result)


async def _incident_namespace(deps: Deps, incident_id: int) -> str:
    """The namespace the incident's alerts name, else the policy's default namespace."""
    incident, labels = await alert_labels(deps.store, incident_id)
    scenario = deps.policy.scenarios.get(incident.scenario)
    return resolve_target(deps.policy.kubernetes, scenario, None, labels).namespace or ""
