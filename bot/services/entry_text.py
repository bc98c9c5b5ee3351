"""Readable one-liners for timeline entries and durations, shared by the postmortem (Markdown)
and the Slack thread messages.

Entry bodies come from senders and users, so ``describe`` takes two formatters: ``text`` for
untrusted strings (Slack passes its escaper, Markdown the identity) and ``user`` for Slack
user ids (Slack turns trusted ids into mentions). Bodies are read leniently: a missing key
gives a shorter line, never an error, because old entries outlive the code that wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from bot.domain.incident import TimelineEntry

Format = Callable[[str], str]

# Kinds written by the Slack command and the approvals flow; the ingest kinds are in
# bot/services/ingest_*.py.
NOTE_KINDS = frozenset({"note", "incident.note"})
COMMANDER_KINDS = frozenset(
    {"commander.assigned", "commander", "commander.set", "incident.commander"}
)
ACTION_PREFIX = "action."
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


def _get(body: Mapping[str, object], *keys: str) -> str:
    """The first present, non-empty value among ``keys``, as text ("" if none)."""
    for key in keys:
        value = body.get(key)
        if value is not None and value != "":
            return str(value)
    return ""


def _generic(kind: str, body: Mapping[str, object], text: Format) -> str:
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(body.items(), key=lambda kv: kv[0]))
    line = f"{kind}: {pairs}" if pairs else kind
    if len(line) > GENERIC_MAX:
        line = line[: GENERIC_MAX - 1] + "…"
    return text(line)


def _target(body: Mapping[str, object]) -> str:
    target = _get(body, "target")
    if target:
        return target
    name = _get(body, "deployment", "name")
    namespace = _get(body, "namespace")
    if name and namespace:
        return f"{namespace}/deploy/{name}"
    return f"deploy/{name}" if name else ""


def _action(kind: str, body: Mapping[str, object], user: Format) -> str:
    state = kind[len(ACTION_PREFIX) :] or "update"
    verb = _get(body, "verb") or "action"
    ident = _get(body, "request_id", "action_request", "id")
    target = _target(body)
    what = verb + (f" {target}" if target else "")
    extra = [f"replicas {r}" for r in [_get(body, "replicas")] if r]
    extra += [f"to revision {r}" for r in [_get(body, "to_revision")] if r]
    detail = _get(body, "detail", "reason", "message", "error")
    by = _get(body, "by", "approver", "user")
    line = f"Action{f' #{ident}' if ident else ''} {state}: {what}"
    if extra:
        line += f" ({', '.join(extra)})"
    if by:
        line += f" by {user(by)}"
    if detail:
        line += f": {detail}"
    return line


def describe(entry: TimelineEntry, *, text: Format = _same, user: Format = _same) -> str:
    """One readable line for ``entry`` (without time or actor). Unknown kinds get a
    generic ``kind: key=value`` line."""
    kind = entry.kind
    # Every body value passes through `text` once, here, so no branch can forget it.
    body = {k: text(str(v)) for k, v in entry.body.items() if v is not None and v != ""}
    line: str | None = None
    if kind == "incident.opened":
        line = f"Opened as {_get(body, 'severity') or '?'}: {_get(body, 'title')}"
        rule = _get(body, "rule")
        line += f" (rule {rule})" if rule else ""
    elif kind in ("alert.firing", "alert.resolved"):
        state = "firing" if kind == "alert.firing" else "resolved"
        name = _get(body, "alertname") or "alert"
        sev = _get(body, "severity")
        line = f"Alert {name} {state}" + (f" ({sev})" if sev else "")
    elif kind == "alert.repeat":
        line = f"Alert group re-sent ({_get(body, 'alerts') or '?'} alerts, {_get(body, 'status') or 'unknown'}); nothing new"
    elif kind == "alerts.truncated":
        line = f"Alertmanager left out {_get(body, 'truncated_alerts') or '?'} alerts of this group"
    elif kind == "severity.changed":
        line = f"Severity {_get(body, 'from') or '?'} → {_get(body, 'to') or '?'}"
        why = _get(body, "reason", "rule")
        line += f" ({why})" if why else ""
    elif kind == "incident.acknowledged":
        line = "Acknowledged"
    elif kind == "incident.triggered":
        line = "Back to triggered"
    elif kind == "incident.resolved":
        reason = _get(body, "reason")
        line = "Resolved" + (f": {reason}" if reason else "")
    elif kind in NOTE_KINDS:
        line = f"Note: {_get(body, 'text', 'note')}"
    elif kind in COMMANDER_KINDS:
        commander = _get(body, "commander", "user")
        line = f"Commander: {user(commander)}" if commander else "Commander cleared"
    elif kind == "pagerduty.linked":
        line = f"Linked to PagerDuty incident {_get(body, 'number', 'pagerduty_id')}"
    elif kind.startswith("pagerduty."):
        line = f"PagerDuty: {text(kind[len('pagerduty.') :])}"
        note = _get(body, "note")
        line += f": {note}" if note else ""
    elif kind.startswith(ACTION_PREFIX):
        line = _action(kind, body, user)
    return line if line is not None else _generic(kind, entry.body, text)
