"""Readable one-liners for timeline entries and durations, shared by the postmortem (Markdown)
and the Slack thread messages.

``describe`` matches on the typed body (``bot.domain.events``). Entry bodies come from
senders and users, so it takes two formatters: ``text`` for untrusted strings (Slack passes
its escaper, Markdown the identity) and ``user`` for Slack user ids (Slack turns trusted ids
into mentions). Bodies are decoded leniently: a missing key
gives a shorter line, never an error, because old entries outlive the code that wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from bot.domain import events as ev
from bot.domain.incident import TimelineEntry
from bot.services.silence_lines import silence_line

Format = Callable[[str], str]
# A body value as text, through the caller's ``text`` formatter ("" when absent).
Show = Callable[[object], str]

GENERIC_MAX = 300


def _same(value: str) -> str:
    return value


def human_duration(delta: timedelta) -> str:
    """``12 min 5 s``, ``2 h 3 min``, ``1 d 4 h``; negative durations count as zero."""
    total = max(0, int(delta.total_seconds()))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        parts = [(days, "d"), (hours, "h")]
    elif hours:
        parts = [(hours, "h"), (minutes, "min")]
    elif minutes:
        parts = [(minutes, "min"), (seconds, "s")]
    else:
        return f"{seconds} s"
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


def _generic(kind: str, body: Mapping[str, object], text: Format) -> str:
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(body.items(), key=lambda kv: kv[0]))
    line = f"{kind}: {pairs}" if pairs else kind
    if len(line) > GENERIC_MAX:
        line = line[: GENERIC_MAX - 1] + "…"
    return text(line)


def _action(event: ev.AboutAction, show: Show, user: Format) -> str:
    state = event.kind.value.removeprefix("action.")
    what = show(event.verb) or "action"
    what += f" {show(event.target)}" if event.target else ""
    extra = [f"replicas {show(event.replicas)}"] if event.replicas is not None else []
    extra += [f"to revision {show(event.to_revision)}"] if event.to_revision is not None else []
    line = f"Action{f' #{show(event.action_id)}' if event.action_id is not None else ''} {state}"
    line += f": {what}" + (f" ({', '.join(extra)})" if extra else "")
    by = event.by if isinstance(event, ev.ActionApproval | ev.ActionDenied) else ""
    if by:
        line += f" by {user(show(by))}"
    detail = ""
    if isinstance(event, ev.ActionApplied | ev.ActionFinished):
        detail = event.detail
    elif isinstance(event, ev.ActionDenied | ev.ActionRefused):
        detail = event.reason
    return line + (f": {show(detail)}" if detail else "")


def _diagnosed(event: ev.ActionDiagnosed, show: Show) -> str:
    line = f"Diagnosed {show(event.target) or 'a deployment'}"
    if event.replicas is not None:
        line += f": {show(event.ready)}/{show(event.replicas)} ready"
        line += f", {show(event.restarts)} restarts, {show(event.warnings)} warnings"
    return line


def _request_refused(event: ev.ActionRequestRefused, show: Show) -> str:
    what = show(event.verb) or "action"
    what += f" {show(event.target)}" if event.target else ""
    what += f" (replicas {show(event.replicas)})" if event.replicas is not None else ""
    return f"Request refused: {what}" + (f": {show(event.reason)}" if event.reason else "")


_VIA = {"page": "page", "slack": "Slack", "email": "email"}


def _told(items: ev.Notified, show: Show, user: Format) -> str:
    parts = []
    for r in ev.recipients_of(items):
        who = user(show(r.address)) if r.via.value == "slack" else show(r.address or r.who)
        parts.append(f"{_VIA[r.via.value]} {who}" if who else _VIA[r.via.value])
    return ", ".join(parts)


def _escalated(event: ev.EscalationFired, show: Show, user: Format) -> str:
    line = f"Escalation level {event.level + 1}/{show(event.levels) or '?'}"
    line += f" of {show(event.severity) or '?'}"
    line += f" ({show(event.name)})" if event.name else ""
    line += f" at {human_duration(timedelta(seconds=event.after_seconds))}"
    told = _told(event.notified, show, user)
    line += f": {told}" if told else ""
    if event.upgrade:
        line += f"; severity raised to {show(event.upgrade)}"
    if event.late_seconds > 0:
        line += f" ({human_duration(timedelta(seconds=event.late_seconds))} late)"
    return line


_SETTING_OF = {"page": "Paging", "email": "Email", "slack": "Slack"}


Escalation = (
    ev.EscalationFired
    | ev.ResponseOverdue
    | ev.PageRequested
    | ev.NotificationUnconfigured
    | ev.NotificationFailed
)


def _escalation_line(event: Escalation, show: Show, user: Format) -> str:
    match event:
        case ev.EscalationFired():
            return _escalated(event, show, user)
        case ev.ResponseOverdue():
            target = human_duration(timedelta(minutes=event.target_minutes))
            return (
                f"Response target of {target} for {show(event.severity) or '?'} passed "
                "without an acknowledgement: overdue"
            )
        case ev.PageRequested():
            return f"Paged by hand: {_told(event.notified, show, user) or 'nobody'}"
        case ev.NotificationUnconfigured():
            what = _SETTING_OF.get(event.via, show(event.via))
            return f"{what} not configured (set {show(event.setting)}): nobody was told that way"
        case ev.NotificationFailed():
            to = f" to {show(event.address)}" if event.address else ""
            return f"{show(event.target).capitalize()} {show(event.method)}{to} failed: {show(event.error)}"


def _graph(event: ev.GraphAttached | ev.GraphNotDrawn, show: Show) -> str:
    of = f" of {show(event.alert)}" if event.alert else ""
    if isinstance(event, ev.GraphNotDrawn):
        return f"No graph{of}: {show(event.detail) or show(event.reason) or 'unknown reason'}"
    window = human_duration(timedelta(minutes=event.window_minutes))
    line = f"Graph{of} over the last {window}: {show(event.expr) or '?'}"
    if event.op and event.threshold is not None:
        line += f", line at {show(event.op)} {event.threshold:g}"
    return line + f" ({show(event.series) or '0'} series)"


def _line(event: ev.Event, show: Show, user: Format) -> str:
    match event:
        case (
            ev.EscalationFired()
            | ev.ResponseOverdue()
            | ev.PageRequested()
            | ev.NotificationUnconfigured()
            | ev.NotificationFailed()
        ):
            return _escalation_line(event, show, user)
        case ev.IncidentOpened():
            line = f"Opened as {show(event.severity) or '?'}: {show(event.title)}"
            return line + (f" (rule {show(event.rule)})" if event.rule else "")
        case ev.StatusChanged(kind=ev.EventKind.INCIDENT_ACKNOWLEDGED):
            return "Acknowledged"
        case ev.StatusChanged(kind=ev.EventKind.INCIDENT_TRIGGERED):
            return "Back to triggered" + (f": {show(event.reason)}" if event.reason else "")
        case ev.IncidentFlapped():
            line = (
                f"Flapping: fired again within {show(event.window) or '?'} of"
                f" resolving (flap {show(event.count) or '?'})"
            )
            if event.paging_held_until:
                line += f"; paging held until {show(event.paging_held_until)} unless it resolves"
            return line
        case ev.StatusChanged():
            return "Resolved" + (f": {show(event.reason)}" if event.reason else "")
        case ev.SeverityChanged():
            line = f"Severity {show(event.previous) or '?'} → {show(event.to) or '?'}"
            return line + (f" ({show(event.rule)})" if event.rule else "")
        case ev.AlertChanged():
            state = "firing" if event.kind is ev.EventKind.ALERT_FIRING else "resolved"
            line = f"Alert {show(event.alertname) or 'alert'} {state}"
            return line + (f" ({show(event.severity)})" if event.severity else "")
        case ev.AlertRepeat():
            return (
                f"Alert group re-sent ({show(event.alerts) or '?'} alerts, "
                f"{show(event.status) or 'unknown'}); nothing new"
            )
        case ev.MaintenanceApplied():
            return (
                f"Opened during maintenance ({show(event.window) or 'a window'}, until"
                f" {show(event.ends_at) or '?'}): {show(event.classified) or '?'} held at"
                f" {show(event.severity) or '?'}"
            )
        case ev.MaintenanceStarted():
            return (
                f"Maintenance started ({show(event.window) or 'a window'} for"
                f" {show(event.service) or 'every service'}, until {show(event.ends_at) or '?'}):"
                f" new alerts open at most at {show(event.severity) or '?'}; this incident is"
                " unchanged"
            )
        case ev.MaintenanceEnded():
            how = "ended" if event.how == "ended" else "over"
            return f"Maintenance {how} ({show(event.window) or 'a window'}, {show(event.ended_at) or '?'})"
        case ev.AlertsTruncated():
            return (
                f"Alertmanager left out {show(event.truncated_alerts) or '?'} alerts of this group"
            )
        case ev.SymptomsJoined():
            return (
                f"{show(event.alerts) or '?'} alerts joined as symptoms"
                f" ({show(event.alertnames) or 'alert'}; inhibition {show(event.rule) or '?'})"
            )
        case ev.StormFormed():
            return (
                f"Alert storm on {show(event.storm_key) or '?'}: {show(event.incidents) or '?'}"
                f" incidents within {show(event.window) or '?'}; {show(event.merged) or '0'}"
                " merged into this one, and the next groups join it"
            )
        case ev.StormJoined():
            return (
                f"Group {show(event.group_key) or '?'} joined the storm:"
                f" {show(event.alerts) or '?'} alerts ({show(event.alertnames) or 'alert'})"
            )
        case ev.IncidentMerged():
            return (
                f"#{show(event.source) or '?'} merged into #{show(event.target) or '?'}"
                f" ({show(event.alerts) or '0'} alerts moved; {show(event.reason) or '?'})"
            )
        case ev.IncidentSplit():
            return (
                f"Group {show(event.group_key) or '?'} split out of #{show(event.source) or '?'}"
                f" into #{show(event.target) or '?'} ({show(event.alerts) or '0'} alerts)"
            )
        case ev.Note():
            return f"Note: {show(event.text)}"
        case (
            ev.SilenceCreated()
            | ev.SilenceExpired()
            | ev.SilenceRequested()
            | ev.SilenceDecision()
            | ev.SilenceRefused()
            | ev.SilenceChecked()
        ):
            return silence_line(event, show, user)
        case ev.CommanderAssigned():
            return f"Commander: {user(show(event.user))}" if event.user else "Commander cleared"
        case ev.CommandViewed():
            return f"Ran /incident {show(event.command) or 'show'}"
        case ev.PostmortemRequested():
            name = show(event.filename) or "a file"
            return f"Postmortem requested: posted into the channel as {name}"
        case ev.ParticipantJoined():
            return f"{user(show(event.user))} joined the channel"
        case ev.PagerDutyLinked():
            number = show(event.number) if event.number is not None else show(event.pagerduty_id)
            return f"Linked to PagerDuty incident {number}"
        case ev.PagerDutyReceived():
            line = f"PagerDuty: {event.kind.value.removeprefix('pagerduty.')}"
            return line + (f": {show(event.note)}" if event.note else "")
        case ev.ActionDiagnosed():
            return _diagnosed(event, show)
        case ev.ActionRequestRefused():
            return _request_refused(event, show)
        case ev.GraphAttached() | ev.GraphNotDrawn():
            return _graph(event, show)
        case _:
            return _action(event, show, user)


def describe(entry: TimelineEntry, *, text: Format = _same, user: Format = _same) -> str:
    """One readable line for ``entry`` (without time or actor). A kind firebreak never wrote
    gets a generic ``kind: key=value`` line."""
    event = ev.decode(entry.kind, entry.body)
    if event is None:
        return _generic(entry.kind, entry.body, text)

    def show(value: object) -> str:
        # Every body value is shown through here, so no branch can forget to escape it.
        return "" if value is None or value == "" else text(str(value))

    return _line(event, show, user)
