"""The incident card: one Block Kit message per incident, posted once and updated in place.

``render_card`` draws the open card (Acknowledge while triggered, Resolve, one button per
suggested action) or, once the incident is resolved, the same facts without any button. The
P2 triage-channel post is the same card (``render_triage_post``).

The buttons' ids and value keys are ``bot.domain.controls``, which the click handlers
(``handlers.slack.buttons``) read too. Slack requires ``action_id`` to be unique within an actions block, so every suggested action
gets its own actions block (``block_id`` ``firebreak.action.<index>``) and keeps the same id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.controls import INCIDENT, SUGGESTION, Control
from bot.domain.escalation import Timer
from bot.domain.incident import AlertEpisode, AlertStatus, Incident, IncidentStatus, Severity
from bot.integrations.slack import kit
from bot.integrations.slack.kit import Block, Message
from bot.integrations.slack.response import response_field
from bot.integrations.slack.storm_card import storm_blocks
from bot.integrations.slack.text import (
    date,
    escape,
    inert,
    is_user_id,
    link,
    mention,
    plain,
    truncate,
)
from bot.policy.escalation import format_duration
from bot.policy.kubernetes import KubernetesPolicy
from bot.policy.model import Scenario, SuggestedAction
from bot.policy.noise import FlapPolicy
from bot.policy.targets import Resolved, resolve_target, scenario_target, template_values
from bot.policy.templates import fill
from bot.services.entry_text import human_duration
from bot.services.escalation.standing import Reached

MAX_ALERTS = 10
MAX_ACTION_BUTTONS = 20
LABELS_MAX = 200
# 12 lines (title, 10 alerts, "and N more") of this length fit in one 3,000-character section.
LINE_MAX = 240
ICONS = {
    Severity.P0: ":red_circle:",
    Severity.P1: ":large_orange_circle:",
    Severity.P2: ":large_yellow_circle:",
}
RESOLVED_ICON = ":white_check_mark:"
# Labels already shown elsewhere on the alert's line.
_SHOWN_LABELS = frozenset({"alertname", "severity"})


@dataclass(frozen=True, slots=True)
class CardView:
    """What the card shows. ``commander`` is a Slack user id (shown as a mention) or, if it
    is not one, a name shown as text. ``kubernetes`` (the policy's section) resolves the
    actions' targets and fills the triage templates. ``reached`` is how far the escalation
    path has gone (``bot.services.escalation.standing``); ``timers`` are the incident's
    escalation timers, which set the response deadline; ``steps`` are the severity's
    standing steps; ``flap`` (the policy's) says when its flaps make it flapping."""

    incident: Incident
    alerts: Sequence[AlertEpisode]
    scenario: Scenario | None
    commander: str | None
    now: datetime
    kubernetes: KubernetesPolicy = field(default_factory=KubernetesPolicy)
    reached: Reached | None = None
    steps: Sequence[str] = ()
    timers: Sequence[Timer] = ()
    flap: FlapPolicy = field(default_factory=FlapPolicy)
    # The incident's web page (``bot.domain.links``); "" without a public URL: no link.
    page: str = ""

    @property
    def labels(self) -> list[Mapping[str, str]]:
        """The alerts' labels, earliest first: what names the actions' targets."""
        return [alert.labels for alert in self.alerts]


def action_label(action: SuggestedAction) -> str:
    """The policy's label, or one made from the verb and target."""
    if action.label:
        return action.label
    text = f"{action.verb.capitalize()} {action.deployment}"
    return f"{text} to {action.replicas}" if action.replicas is not None else text


def _status(incident: Incident) -> str:
    return incident.status.value.capitalize()


def _commander(commander: str) -> str:
    return mention(commander) if is_user_id(commander) else escape(commander)


def _fields(view: CardView) -> Block:
    inc = view.incident
    pairs = [
        ("Severity", inc.severity.value),
        ("Status", _status(inc)),
        ("Service", inert(inc.service)),
        ("Started", date(inc.created_at)),
    ]
    if inc.status is IncidentStatus.RESOLVED:
        end = inc.resolved_at or view.now
        pairs += [
            ("Resolved", date(end)),
            ("Duration", human_duration(end - inc.created_at)),
        ]
    else:
        pairs.append(("Response target", response_field(inc, view.now, view.reached, view.timers)))
    if view.commander:
        pairs.append(("Commander", _commander(view.commander)))
    if inc.flap_count:
        pairs.append(("Flaps", _flaps(inc.flap_count, view.flap)))
    silenced = inc.silenced_until
    if inc.status.is_open and silenced is not None and silenced > view.now:
        pairs.append(("Silenced", f"in Alertmanager until {date(silenced)}"))
    return kit.fields(pairs)


def _flaps(count: int, flap: FlapPolicy) -> str:
    if not flap.flapping(count):
        return str(count)
    window = format_duration(flap.window)
    return f":warning: {count}, flapping: a re-trigger pages only once firing for {window}"


def _alert_line(episode: AlertEpisode) -> str:
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(episode.labels.items()) if k not in _SHOWN_LABELS
    )
    summary = episode.annotations.get("summary", "")
    line = f"• *{inert(episode.name or 'alert')}* ({episode.severity.value})"
    if summary:
        line += f" {inert(' '.join(summary.split()))}"
    if labels:
        line += " · `" + truncate(inert(labels).replace("`", "'"), LABELS_MAX, marker="…") + "`"
    return line


def _alerts(view: CardView) -> Block:
    firing = [a for a in view.alerts if a.status is AlertStatus.FIRING]
    firing.sort(key=lambda a: (-a.severity.rank, a.starts_at, a.id))
    if not firing:
        resolved = len(view.alerts)
        return kit.section(f"*Alerts*\nNone firing ({resolved} resolved).")
    lines = [f"*Firing alerts ({len(firing)})*"]
    lines += [_alert_line(a) for a in firing[:MAX_ALERTS]]
    if len(firing) > MAX_ALERTS:
        lines.append(f"and {len(firing) - MAX_ALERTS} more")
    # Cut per line first so the "and N more" line survives a long list of long alerts.
    body = "\n".join(truncate(line, LINE_MAX) for line in lines)
    return kit.section(body, block_id="firebreak.alerts")


def _steps(title: str, steps: Sequence[str], values: Mapping[str, str]) -> str:
    numbered = "\n".join(
        f"{i}. {inert(' '.join(fill(s, values).split()))}" for i, s in enumerate(steps, 1)
    )
    return f"*{title}*\n{numbered}"


def _scenario(view: CardView, scenario: Scenario) -> list[Block]:
    blocks: list[Block] = []
    intro = f"*Scenario:* {inert(scenario.title)}"
    if scenario.summary:
        intro += f"\n{inert(scenario.summary)}"
    blocks.append(kit.section(intro))
    # The steps are filled for the target the buttons act on, from the first alert's labels.
    labels = view.labels
    target = scenario_target(view.kubernetes, scenario, labels)
    values = template_values(view.kubernetes, target, labels[0] if labels else {})
    if scenario.triage:
        blocks.append(
            kit.section(_steps("Triage", scenario.triage, values), block_id="firebreak.triage")
        )
    if scenario.mitigation:
        blocks.append(
            kit.section(
                _steps("Mitigation", scenario.mitigation, values), block_id="firebreak.mitigation"
            )
        )
    return blocks


def _code(text: str) -> str:
    return "`" + inert(text).replace("`", "'") + "`"


def _targets(view: CardView, scenario: Scenario) -> str:
    """Where the suggested actions act, and which alert decided when alerts disagree."""
    resolved: list[Resolved] = [
        resolve_target(view.kubernetes, scenario, action, view.labels)
        for action in scenario.actions
    ]
    shown = list(dict.fromkeys(_code(str(r)) for r in resolved))
    line = f"On {', '.join(shown[:3])}" + (" …" if len(shown) > 3 else "")
    notes = list(dict.fromkeys(r.note for r in resolved if r.note))
    if notes:
        line += f"\n:warning: {inert('; '.join(notes))}"
    return truncate(line, LINE_MAX * 2)


def _incident_buttons(incident: Incident) -> Block:
    value = kit.button_value({INCIDENT: incident.id})
    elements: list[Block] = []
    if incident.status is IncidentStatus.TRIGGERED:
        elements.append(
            kit.button("Acknowledge", action_id=Control.ACK, value=value, style="primary")
        )
    elements.append(
        kit.button(
            "Resolve",
            action_id=Control.RESOLVE,
            value=value,
            confirmation=kit.confirm(
                f"Resolve incident #{incident.id}?",
                "Responders will see it as resolved; a new alert opens a new incident.",
                yes="Resolve",
            ),
        )
    )
    return kit.actions(elements, block_id="firebreak.incident")


def _action_buttons(incident: Incident, scenario: Scenario, budget: int) -> list[Block]:
    """One actions block per suggested action, as many as ``budget`` blocks allow."""
    suggested = scenario.actions
    shown = min(len(suggested), MAX_ACTION_BUTTONS, budget)
    if shown < len(suggested):
        shown = max(0, min(shown, budget - 1))  # leave a block for the "more" note
    blocks = [
        kit.actions(
            [
                kit.button(
                    plain(action_label(action), kit.BUTTON_TEXT_MAX),
                    action_id=Control.REQUEST_ACTION,
                    value=kit.button_value({INCIDENT: incident.id, SUGGESTION: index}),
                )
            ],
            block_id=f"firebreak.action.{index}",
        )
        for index, action in enumerate(suggested[:shown])
    ]
    if shown < len(suggested):
        blocks.append(
            kit.context(
                f"{len(suggested) - shown} more suggested actions are not shown; request them "
                "with `/incident scale`, `rollback` or `restart`."
            )
        )
    return blocks


def _title(view: CardView) -> str:
    inc = view.incident
    icon = RESOLVED_ICON if inc.status is IncidentStatus.RESOLVED else ICONS[inc.severity]
    return f"{icon} {inc.severity.value} · {' '.join(inc.title.split())}"


def render_card(view: CardView) -> Message:
    """The incident card: buttons while open, none once resolved."""
    inc = view.incident
    blocks: list[Block] = [
        kit.header(plain(_title(view), kit.HEADER_MAX)),
        _fields(view),
        _alerts(view),
        *storm_blocks(inc, view.alerts),
    ]
    if view.steps and inc.status.is_open:
        title = f"Steps for every {inc.severity.value}"
        blocks.append(kit.section(_steps(title, view.steps, {}), block_id="firebreak.steps"))
    if view.scenario is not None:
        blocks += _scenario(view, view.scenario)
    number = link(view.page, f"Incident #{inc.id}") if view.page else f"Incident #{inc.id}"
    footer = kit.context(
        f"{number} · {inc.source.value} · updated {date(view.now)}"
        + (f" · {link(view.page, 'open the incident page')}" if view.page else "")
        + (
            f" · `/incident postmortem {inc.id}` for the write-up"
            if inc.status is IncidentStatus.RESOLVED
            else ""
        )
    )
    if inc.status.is_open:
        blocks.append(_incident_buttons(inc))
        if view.scenario is not None and view.scenario.actions:
            blocks.append(
                kit.section(
                    "*Suggested actions* (each one asks an approver first)\n"
                    + _targets(view, view.scenario)
                )
            )
            budget = kit.MAX_BLOCKS - len(blocks) - 1  # the footer
            blocks += _action_buttons(inc, view.scenario, budget)
    blocks.append(footer)
    state = "resolved" if inc.status is IncidentStatus.RESOLVED else inc.status.value
    text = f"{inc.severity.value} incident #{inc.id} ({state}): {inert(inc.title)}"
    return Message(text=kit.fallback(text), blocks=blocks[: kit.MAX_BLOCKS])


def render_triage_post(view: CardView) -> Message:
    """The P2 post to the triage channel: the same card, so updates work the same way."""
    return render_card(view)
