"""``/incident maintenance [start [DURATION] [SERVICE] | end [SERVICE]]``: parsing, running
and the replies (the use cases are in ``bot.services.maintenance``). Typed anywhere: a window
is about a service, not an incident. No SERVICE means every service."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.actor import Actor
from bot.policy.maintenance import Occurrence
from bot.services.entry_text import human_duration
from bot.services.maintenance.end import Ended, end_maintenance
from bot.services.maintenance.start import DEFAULT_DURATION, Started, covered, start_maintenance
from bot.services.maintenance.windows import AD_HOC_EFFECT, Schedule, schedule
from bot.text import escape
from handlers.deps import Deps
from handlers.slack.command import commands as cmd
from handlers.slack.command.args import MAX_SERVICE, fail, options
from handlers.slack.command.silencing import DURATION_WORD, duration
from handlers.slack.command.words import Word

SUB = "maintenance"


def _service(word: Word) -> str:
    service = " ".join(word.text.split())
    if not service:
        raise fail(SUB, "The service name is empty.")
    if len(service) > MAX_SERVICE:
        raise fail(SUB, f"The service name is too long (at most {MAX_SERVICE} characters).")
    return service


def parse_maintenance(text: str, words: list[Word]) -> cmd.Command:
    """No words: the schedule; ``start [DURATION] [SERVICE] [--reason TEXT]``;
    ``end [SERVICE]``."""
    if not words:
        return cmd.MaintenanceList()
    verb, rest = words[0].text.lower(), words[1:]
    if verb == "start":
        opts, pos = options(SUB, rest, {"--reason": "reason"})
        length: timedelta | None = None
        if pos and not pos[0].quoted and DURATION_WORD.fullmatch(pos[0].text):
            length, pos = duration(SUB, pos[0].text), pos[1:]
        if len(pos) > 1:
            raise fail(SUB, "Give one service (quote a name with spaces), after the duration.")
        service = _service(pos[0]) if pos else None
        return cmd.MaintenanceStart(length, service, opts.get("reason", ""))
    if verb == "end":
        if len(rest) > 1:
            raise fail(SUB, "Give one service (quote a name with spaces).")
        return cmd.MaintenanceEnd(_service(rest[0]) if rest else None)
    raise fail(SUB, f"`{words[0].text}` is neither `start` nor `end`.")


def _at(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M} UTC"


def _end_hint(service: str | None) -> str:
    return f"`/incident maintenance end{' ' + escape(service) if service else ''}`"


def _effect(service: str | None) -> str:
    held = AD_HOC_EFFECT.severity.value
    kept = ", ".join(s.value for s in AD_HOC_EFFECT.keep)
    return (
        f"new alerts of {escape(covered(service))} open at most as {held}, without a page or a"
        f" channel of their own ({kept} still pages)"
    )


def started_text(started: Started, now: datetime) -> str:
    """The reply to ``maintenance start``: what is open, until when, how to end it."""
    window = started.window
    line = (
        f"Maintenance window *{window.id}* is open for *{escape(covered(window.service))}* until"
        f" {_at(window.ends_at)} (for {human_duration(window.ends_at - now)}): {_effect(window.service)}."
    )
    if started.marked:
        ids = ", ".join(f"#{i}" for i in started.marked)
        line += f"\nMarked on the open incidents it covers: {ids}."
    return line + f"\nEnd it early with {_end_hint(window.service)}."


def ended_text(ended: Ended) -> str:
    """The reply to ``maintenance end``."""
    window = ended.window
    line = f"Maintenance window *{window.id}* for *{escape(covered(window.service))}* has ended."
    if ended.touched:
        line += "\nRecorded on " + ", ".join(f"#{i}" for i in ended.touched) + "."
    for incident in ended.raised:
        line += (
            f"\n*#{incident.id}* still fires: back to {incident.severity.value}, its escalation"
            " path starts now."
        )
    return line


def _running(occurrence: Occurrence) -> str:
    services = ", ".join(occurrence.services) if occurrence.services else None
    line = f"• {escape(occurrence.name)} for {escape(covered(services))}, until {_at(occurrence.ends_at)}"
    if occurrence.ad_hoc is not None:
        line += f" (end it with {_end_hint(services)})"
    return line


def _upcoming(occurrence: Occurrence) -> str:
    services = ", ".join(occurrence.services) if occurrence.services else None
    return (
        f"• {escape(occurrence.name)} for {escape(covered(services))}:"
        f" {_at(occurrence.starts_at)} to {occurrence.ends_at:%H:%M} UTC"
    )


def schedule_text(found: Schedule) -> str:
    """The reply to ``/incident maintenance``."""
    lines = ["*Maintenance now:*"]
    lines += [_running(o) for o in found.running] or ["• none"]
    lines.append("*Next:*")
    lines += [_upcoming(o) for o in found.upcoming] or ["• no recurring windows in the policy"]
    lines.append(
        f"`/incident maintenance start [DURATION] [SERVICE]` opens one (default {human_duration(DEFAULT_DURATION)})."
    )
    return "\n".join(lines)


async def run_maintenance(deps: Deps, command: cmd.Command, *, actor: Actor) -> str:
    """Run one of the maintenance commands."""
    now = deps.clock.now()
    match command:
        case cmd.MaintenanceStart(duration=length, service=service, reason=reason):
            started = await start_maintenance(
                deps.store,
                service=service,
                duration=length or DEFAULT_DURATION,
                actor=actor,
                at=now,
                reason=reason,
            )
            return started_text(started, now)
        case cmd.MaintenanceEnd(service=service):
            ended = await end_maintenance(
                deps.store, deps.policy, service=service, actor=actor, at=now
            )
            return ended_text(ended)
        case _:
            return schedule_text(await schedule(deps.store, deps.policy, now))
