"""``/incident silence`` and ``/incident unsilence``: parsing their arguments, running them
in the incident's channel, and their replies (the use case is
``bot.services.incidents.silence``)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.domain.actor import Actor
from bot.domain.silence import LABEL_NAME, Matcher, MatchOp
from bot.errors import BadRequest
from bot.services.incidents.lookup import incident_for
from bot.services.incidents.silence import DEFAULT_DURATION, Silencer, SilenceRequest
from handlers.deps import Deps
from handlers.slack.command import commands as cmd
from handlers.slack.command.args import fail
from handlers.slack.command.words import Word
from handlers.slack.silence_replies import silence_text, unsilence_text

DURATION_WORD = re.compile(r"(?:[0-9]{1,6}[smhdw])+")
_PART = re.compile(r"([0-9]{1,6})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest operator first, so `=~` is not read as `=` with a value starting `~`.
_MATCHER = re.compile(r"([^=!~]+?)(=~|!~|!=|=)(.*)", re.DOTALL)
MATCHER_OPTIONS = ("--matcher", "-m")


def duration(sub: str, text: str) -> timedelta:
    """``30m``, ``2h``, ``1h30m``, ``1d``: a Go-like duration without fractions."""
    if not DURATION_WORD.fullmatch(text):
        raise fail(sub, f"`{text}` is not a duration (write 30m, 2h, 1h30m or 1d).")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in _PART.findall(text)))


def matcher(sub: str, text: str) -> Matcher:
    """``label=value`` (or ``!=``, ``=~``, ``!~``); a value in double quotes loses them."""
    found = _MATCHER.fullmatch(text)
    if found is None or not LABEL_NAME.fullmatch(found.group(1)):
        raise fail(sub, f"`{text}` is not a matcher (write label=value).")
    value = found.group(3)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    op = MatchOp(found.group(2))
    if op.is_regex:
        try:
            re.compile(value)
        except re.error as exc:
            raise fail(sub, f"`{value}` is not a regular expression: {exc}.") from None
    return Matcher(found.group(1), value, op)


def parse_silence(text: str, words: list[Word]) -> cmd.Command:
    """``[DURATION] [--matcher LABEL=VALUE …] [--broad]`` (``--matcher=X`` and ``-m X``
    too); a matcher may be given more than once."""
    sub = "silence"
    length: timedelta | None = None
    matchers: list[Matcher] = []
    broad = False
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.text.partition("=")
        if not word.quoted and word.text == "--broad":
            broad = True
        elif not word.quoted and name in MATCHER_OPTIONS:
            if not eq:
                i += 1
                if i >= len(words):
                    raise fail(sub, f"`{name}` needs a value.")
                value = words[i].text
            matchers.append(matcher(sub, value))
        elif not word.quoted and word.text.startswith("-"):
            raise fail(sub, f"Unknown option `{name}`.")
        elif length is None:
            length = duration(sub, word.text)
        else:
            raise fail(sub, "Give one duration.")
        i += 1
    return cmd.Silence(length, tuple(dict.fromkeys(matchers)), broad)


def parse_unsilence(text: str, words: list[Word]) -> cmd.Command:
    if words:
        raise fail("unsilence", "It takes no arguments: type it in the incident's channel.")
    return cmd.Unsilence()


def silencer_of(deps: Deps) -> Silencer:
    """The silence use cases, or a refusal when the app was built without them."""
    if deps.silencer is None:
        raise BadRequest("silences are not set up in this firebreak")
    return deps.silencer


async def _incident(deps: Deps, channel: str, sub: str) -> int:
    try:
        return await incident_for(deps.store, None, channel=channel)
    except BadRequest:
        raise BadRequest(
            f"`/incident {sub}` acts on the incident of the channel it is typed in: "
            "type it in the incident's channel"
        ) from None


async def run_silence(deps: Deps, command: cmd.Silence, *, actor: Actor, channel: str) -> str:
    """Silence the alerts of the incident of ``channel``."""
    silencer = silencer_of(deps)
    incident_id = await _incident(deps, channel, "silence")
    request = SilenceRequest(
        duration=command.duration or DEFAULT_DURATION,
        matchers=command.matchers,
        broad=command.broad,
    )
    return silence_text(await silencer.silence(incident_id, request, actor=actor))


async def run_unsilence(deps: Deps, *, actor: Actor, channel: str) -> str:
    """Expire the silences of the incident of ``channel``."""
    silencer = silencer_of(deps)
    incident_id = await _incident(deps, channel, "unsilence")
    return unsilence_text(await silencer.unsilence(incident_id, actor=actor))
