"""``/incident …``: the text of the slash command parsed into one typed command.

Incident ids may be written ``42``, ``#42`` or ``INC-42`` (any case). Where the id is
optional the command applies to the incident of the channel it was typed in. ``note`` and
``resolve`` take free text; a leading id is read only when written ``#42``/``INC-42`` for
``note`` (so ``note 3 pods restarted`` is a note), and in any form for ``resolve``.
The app manifest sets ``should_escape`` so Slack sends mentions as ``<@U123|alice>``.
Bad input raises ``UsageError`` whose message names the problem and shows the usage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from bot.errors import UsageError
from handlers.slack.command.args import (
    BARE_USER,
    EXPLICIT_ID,
    FREE_TEXT,
    HELP_TEXT,
    ID,
    MAX_SERVICE,
    MAX_TEXT,
    MAX_TITLE,
    MENTION,
    NAMESPACE,
    ROTATION_KEY,
    USAGE,
    count,
    deployment,
    fail,
    incident_id,
    namespace,
    options,
    severity,
    usage,
)
from handlers.slack.command.commands import (
    Ack,
    Command,
    Declare,
    Diagnose,
    Help,
    ListIncidents,
    Note,
    OnCall,
    Page,
    Postmortem,
    Resolve,
    Restart,
    Rollback,
    Scale,
    SetCommander,
    SetSeverity,
    Show,
    Timeline,
)
from handlers.slack.command.maintenance import parse_maintenance
from handlers.slack.command.silencing import parse_silence, parse_unsilence
from handlers.slack.command.words import Word, first, normalise, rest, split


def _optional_id(sub: str, words: list[Word]) -> int | None:
    if len(words) > 1:
        raise fail(sub, "Too many arguments.")
    return incident_id(sub, words[0]) if words else None


def _target(
    sub: str, words: list[Word], spec: dict[str, str], arity: int
) -> tuple[str, list[Word], dict[str, str]]:
    """The deployment (first positional word), the other positional words and the options."""
    opts, pos = options(sub, words, spec)
    if len(pos) != arity:
        raise fail(sub, "Wrong number of arguments.")
    return deployment(sub, pos[0]), pos[1:], opts


def _help(text: str, words: list[Word]) -> Command:
    if len(words) > 1:
        raise fail("help", "Too many arguments.")
    topic = words[0].text.lower() if words else None
    if topic is not None and topic not in USAGE:
        raise fail("help", f"There is no subcommand `{topic}`.")
    return Help(topic)


def _list(text: str, words: list[Word]) -> Command:
    if len(words) > 1 or (words and words[0].text.lower() not in ("open", "all")):
        raise fail("list", "Choose `open` or `all`.")
    scope: Literal["open", "all"] = "all" if words and words[0].text.lower() == "all" else "open"
    return ListIncidents(scope)


def _show(text: str, words: list[Word]) -> Command:
    if len(words) != 1:
        raise fail("show", "Give one incident id.")
    return Show(incident_id("show", words[0]))


def _declare(text: str, words: list[Word]) -> Command:
    spec = {"--severity": "severity", "-s": "severity", "--service": "service"}
    opts, pos = options("declare", words, spec)
    title = " ".join(" ".join(w.text for w in pos).split())
    if not title:
        raise fail("declare", "Give the incident a title.")
    if len(title) > MAX_TITLE:
        raise fail("declare", f"The title is too long (at most {MAX_TITLE} characters).")
    level = severity("declare", opts["severity"]) if "severity" in opts else None
    service = opts.get("service")
    if service is not None and not service.strip():
        raise fail("declare", "`--service` needs a value.")
    return Declare(title, severity=level, service=service)


def _ack(text: str, words: list[Word]) -> Command:
    return Ack(_optional_id("ack", words))


def _resolve(text: str, words: list[Word]) -> Command:
    if words and not words[0].quoted and ID.fullmatch(words[0].text):
        return Resolve(incident_id("resolve", words[0]), reason=rest(text, words[0]))
    return Resolve(None, reason=rest(text, None))


def _severity_cmd(text: str, words: list[Word]) -> Command:
    if not words or len(words) > 2:
        raise fail("severity", "Give a severity and optionally an incident id.")
    return SetSeverity(severity("severity", words[0].text), _optional_id("severity", words[1:]))


def _commander(text: str, words: list[Word]) -> Command:
    if not words or len(words) > 2:
        raise fail("commander", "Mention one person and optionally an incident id.")
    m = MENTION.fullmatch(words[0].text)
    user = m.group(1) if m else words[0].text if BARE_USER.fullmatch(words[0].text) else None
    if user is None:
        raise fail("commander", f"`{words[0].text}` is not a Slack user; pick them with @.")
    return SetCommander(user, _optional_id("commander", words[1:]))


def _note(text: str, words: list[Word]) -> Command:
    ident = None
    after: Word | None = None
    if words and not words[0].quoted and EXPLICIT_ID.fullmatch(words[0].text):
        ident, after = incident_id("note", words[0]), words[0]
    note = rest(text, after)
    if not note:
        raise fail("note", "Write the note after `note`.")
    return Note(note, incident_id=ident)


def _timeline(text: str, words: list[Word]) -> Command:
    return Timeline(_optional_id("timeline", words))


def _postmortem(text: str, words: list[Word]) -> Command:
    return Postmortem(_optional_id("postmortem", words))


def _scale(text: str, words: list[Word]) -> Command:
    name, (replicas,), opts = _target("scale", words, dict(NAMESPACE), 2)
    return Scale(
        name, count("scale", replicas.text, "replica count"), namespace=namespace("scale", opts)
    )


def _rollback(text: str, words: list[Word]) -> Command:
    spec = {**NAMESPACE, "--to-revision": "revision"}
    name, _, opts = _target("rollback", words, spec, 1)
    revision = count("rollback", opts["revision"], "revision") if "revision" in opts else 0
    # As with kubectl, revision 0 means "the previous one".
    return Rollback(name, namespace=namespace("rollback", opts), to_revision=revision or None)


def _restart(text: str, words: list[Word]) -> Command:
    name, _, opts = _target("restart", words, dict(NAMESPACE), 1)
    return Restart(name, namespace=namespace("restart", opts))


def _diagnose(text: str, words: list[Word]) -> Command:
    name, _, opts = _target("diagnose", words, dict(NAMESPACE), 1)
    return Diagnose(name, namespace=namespace("diagnose", opts))


def _page(text: str, words: list[Word]) -> Command:
    if not words:
        return Page()
    if len(words) > 1:
        raise fail("page", "Page one person or rotation member at a time.")
    word = words[0].text
    m = MENTION.fullmatch(word)
    if m:
        return Page(user_id=m.group(1))
    if BARE_USER.fullmatch(word):
        return Page(user_id=word)
    if word.startswith(("@", "<")):
        raise fail("page", f"`{word}` is not a Slack user; pick them with @.")
    if not ROTATION_KEY.fullmatch(word):
        raise fail("page", f"`{word}` is neither a Slack user nor a rotation member.")
    return Page(who=word)


def _oncall(text: str, words: list[Word]) -> Command:
    if len(words) > 1:
        raise fail("oncall", "Give one service; quote a name with spaces.")
    if not words:
        return OnCall()
    service = " ".join(words[0].text.split())
    if not service:
        raise fail("oncall", "The service name is empty.")
    if len(service) > MAX_SERVICE:
        raise fail("oncall", f"The service name is too long (at most {MAX_SERVICE} characters).")
    return OnCall(service)


_PARSERS: dict[str, Callable[[str, list[Word]], Command]] = {
    "help": _help,
    "list": _list,
    "show": _show,
    "declare": _declare,
    "ack": _ack,
    "resolve": _resolve,
    "severity": _severity_cmd,
    "commander": _commander,
    "note": _note,
    "timeline": _timeline,
    "postmortem": _postmortem,
    "scale": _scale,
    "rollback": _rollback,
    "restart": _restart,
    "diagnose": _diagnose,
    "page": _page,
    "oncall": _oncall,
    "silence": parse_silence,
    "unsilence": parse_unsilence,
    "maintenance": parse_maintenance,
}


def parse_command(text: str) -> Command:
    """The command typed after ``/incident``. Empty text is ``help``."""
    clean = normalise(text)
    head = clean.split(None, 1)
    if not head:
        return Help(None)
    sub = head[0].lower()
    parser = _PARSERS.get(sub)
    if parser is None:
        raise UsageError(f"Unknown subcommand `{head[0][:40]}`.\n{HELP_TEXT}")
    if len(clean) > MAX_TEXT:
        raise fail(sub, f"The command is too long (at most {MAX_TEXT} characters).")
    body = clean[len(head[0]) :]
    words = first(body) if sub in FREE_TEXT else split(body, usage(sub))
    return parser(body, words)


__all__ = [
    "HELP_TEXT",
    "USAGE",
    "Ack",
    "Command",
    "Declare",
    "Diagnose",
    "Help",
    "ListIncidents",
    "Note",
    "OnCall",
    "Page",
    "Postmortem",
    "Resolve",
    "Restart",
    "Rollback",
    "Scale",
    "SetCommander",
    "SetSeverity",
    "Show",
    "Timeline",
    "parse_command",
    "usage",
]
