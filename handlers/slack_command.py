"""``/incident …``: the text of the slash command parsed into one typed command.

Incident ids may be written ``42``, ``#42`` or ``INC-42`` (any case). Where the id is
optional the command applies to the incident of the channel it was typed in. ``note`` and
``resolve`` take free text; a leading id is read only when written ``#42``/``INC-42`` for
``note`` (so ``note 3 pods restarted`` is a note), and in any form for ``resolve``.
The app manifest sets ``should_escape`` so Slack sends mentions as ``<@U123|alice>``.
Bad input raises ``UsageError`` whose message names the problem and shows the usage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from bot.domain import Severity
from bot.errors import UsageError
from handlers.incident_commands import (
    Ack,
    Command,
    Declare,
    Diagnose,
    Help,
    ListIncidents,
    Note,
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
from handlers.slack_words import Word, normalise, rest, split

USAGE: dict[str, str] = {
    "help": "/incident help [SUBCOMMAND]: what each subcommand does",
    "list": "/incident list [open|all]: the open incidents (or all recent ones)",
    "show": "/incident show ID: one incident with its card",
    "declare": "/incident declare TITLE [--severity P0|P1|P2] [--service NAME]: open an incident by hand (quote the title or write plain words)",
    "ack": "/incident ack [ID]: acknowledge",
    "resolve": "/incident resolve [ID] [REASON]: resolve, with an optional reason",
    "severity": "/incident severity P0|P1|P2 [ID]: change the severity",
    "commander": "/incident commander @USER [ID]: name the incident commander",
    "note": "/incident note [#ID] TEXT: add a note to the timeline",
    "timeline": "/incident timeline [ID]: the timeline",
    "postmortem": "/incident postmortem [ID]: the postmortem as Markdown",
    "scale": "/incident scale deploy/NAME REPLICAS [-n NAMESPACE]: request a scale (needs approval)",
    "rollback": "/incident rollback deploy/NAME [--to-revision N] [-n NAMESPACE]: request a rollback (needs approval)",
    "restart": "/incident restart deploy/NAME [-n NAMESPACE]: request a rolling restart (needs approval)",
    "diagnose": "/incident diagnose deploy/NAME [-n NAMESPACE]: pods, rollout and events of a deployment",
}
HELP_TEXT = (
    "*/incident* subcommands (ID is 42, #42 or INC-42; leave it out inside an incident channel):\n"
    + "\n".join(
        f"• `{line.split(': ', 1)[0]}`: {line.split(': ', 1)[1]}" for line in USAGE.values()
    )
)

MAX_TITLE = 250
_ID = re.compile(r"(?:#|inc-?)?([0-9]{1,12})", re.IGNORECASE)
_EXPLICIT_ID = re.compile(r"(?:#|inc-?)([0-9]{1,12})", re.IGNORECASE)
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_BARE_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DEPLOY_KINDS = ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps")
_NAMESPACE = {"-n": "namespace", "--namespace": "namespace"}


def usage(sub: str) -> str:
    """The usage line of one subcommand (the full help for an unknown one)."""
    return f"Usage: {USAGE[sub]}" if sub in USAGE else HELP_TEXT


def _fail(sub: str, problem: str) -> UsageError:
    return UsageError(f"{problem}\n{usage(sub)}")


def _incident_id(sub: str, word: Word) -> int:
    m = _ID.fullmatch(word.text)
    if m is None or int(m.group(1)) < 1:
        raise _fail(sub, f"`{word.text}` is not an incident id (write 42, #42 or INC-42).")
    return int(m.group(1))


def _options(
    sub: str, words: list[Word], spec: dict[str, str]
) -> tuple[dict[str, str], list[Word]]:
    """Split ``words`` into options (``--x V``, ``--x=V``, ``-nV``) and positional words.
    A quoted word is never an option; ``--`` ends the options."""
    found: dict[str, str] = {}
    positional: list[Word] = []
    i = 0
    while i < len(words):
        word = words[i]
        text = word.text
        if word.quoted or not text.startswith("-") or text == "-" or text[1:2].isdigit():
            positional.append(word)
            i += 1
            continue
        if text == "--":
            positional += words[i + 1 :]
            break
        name, eq, value = text.partition("=")
        if name not in spec and name[:2] in spec and not name.startswith("--"):
            name, eq, value = name[:2], "=", name[2:]  # -nprod
        if name not in spec:
            raise _fail(sub, f"Unknown option `{name}`.")
        key = spec[name]
        if key in found:
            raise _fail(sub, f"`{name}` is given twice.")
        if not eq:
            if i + 1 >= len(words):
                raise _fail(sub, f"`{name}` needs a value.")
            i += 1
            value = words[i].text
        if not value:
            raise _fail(sub, f"`{name}` needs a value.")
        found[key] = value
        i += 1
    return found, positional


def _severity(sub: str, text: str) -> Severity:
    try:
        return Severity(text.upper())
    except ValueError:
        raise _fail(sub, f"`{text}` is not a severity (P0, P1 or P2).") from None


def _optional_id(sub: str, words: list[Word]) -> int | None:
    if len(words) > 1:
        raise _fail(sub, "Too many arguments.")
    return _incident_id(sub, words[0]) if words else None


def _deployment(sub: str, word: Word) -> str:
    kind, slash, name = word.text.partition("/")
    if not slash or kind.lower() not in _DEPLOY_KINDS:
        raise _fail(sub, f"`{word.text}` is not a deployment (write deploy/NAME).")
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise _fail(sub, f"`{name}` is not a valid deployment name (lower case, digits, - and .).")
    return name


def _namespace(sub: str, opts: dict[str, str]) -> str | None:
    namespace = opts.get("namespace")
    if namespace is not None and not _DNS_LABEL.fullmatch(namespace):
        raise _fail(sub, f"`{namespace}` is not a valid namespace name.")
    return namespace


def _count(sub: str, text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise _fail(sub, f"`{text}` is not a valid {what} (a whole number, 0 or more).")
    return int(text)


def _target(
    sub: str, words: list[Word], spec: dict[str, str], count: int
) -> tuple[str, list[Word], dict[str, str]]:
    opts, pos = _options(sub, words, spec)
    if len(pos) != count:
        raise _fail(sub, "Wrong number of arguments.")
    return _deployment(sub, pos[0]), pos[1:], opts


def _help(text: str, words: list[Word]) -> Command:
    if len(words) > 1:
        raise _fail("help", "Too many arguments.")
    topic = words[0].text.lower() if words else None
    if topic is not None and topic not in USAGE:
        raise _fail("help", f"There is no subcommand `{topic}`.")
    return Help(topic)


def _list(text: str, words: list[Word]) -> Command:
    if len(words) > 1 or (words and words[0].text.lower() not in ("open", "all")):
        raise _fail("list", "Choose `open` or `all`.")
    scope: Literal["open", "all"] = "all" if words and words[0].text.lower() == "all" else "open"
    return ListIncidents(scope)


def _show(text: str, words: list[Word]) -> Command:
    if len(words) != 1:
        raise _fail("show", "Give one incident id.")
    return Show(_incident_id("show", words[0]))


def _declare(text: str, words: list[Word]) -> Command:
    spec = {"--severity": "severity", "-s": "severity", "--service": "service"}
    opts, pos = _options("declare", words, spec)
    title = " ".join(" ".join(w.text for w in pos).split())
    if not title:
        raise _fail("declare", "Give the incident a title.")
    if len(title) > MAX_TITLE:
        raise _fail("declare", f"The title is too long (at most {MAX_TITLE} characters).")
    severity = _severity("declare", opts["severity"]) if "severity" in opts else None
    service = opts.get("service")
    if service is not None and not service.strip():
        raise _fail("declare", "`--service` needs a value.")
    return Declare(title, severity=severity, service=service)


def _ack(text: str, words: list[Word]) -> Command:
    return Ack(_optional_id("ack", words))


def _resolve(text: str, words: list[Word]) -> Command:
    if words and not words[0].quoted and _ID.fullmatch(words[0].text):
        return Resolve(_incident_id("resolve", words[0]), reason=rest(text, words[0]))
    return Resolve(None, reason=rest(text, None))


def _severity_cmd(text: str, words: list[Word]) -> Command:
    if not words or len(words) > 2:
        raise _fail("severity", "Give a severity and optionally an incident id.")
    return SetSeverity(_severity("severity", words[0].text), _optional_id("severity", words[1:]))


def _commander(text: str, words: list[Word]) -> Command:
    if not words or len(words) > 2:
        raise _fail("commander", "Mention one person and optionally an incident id.")
    m = _MENTION.fullmatch(words[0].text)
    user = m.group(1) if m else words[0].text if _BARE_USER.fullmatch(words[0].text) else None
    if user is None:
        raise _fail("commander", f"`{words[0].text}` is not a Slack user; pick them with @.")
    return SetCommander(user, _optional_id("commander", words[1:]))


def _note(text: str, words: list[Word]) -> Command:
    incident_id = None
    after: Word | None = None
    if words and not words[0].quoted and _EXPLICIT_ID.fullmatch(words[0].text):
        incident_id, after = _incident_id("note", words[0]), words[0]
    note = rest(text, after)
    if not note:
        raise _fail("note", "Write the note after `note`.")
    return Note(note, incident_id=incident_id)


def _timeline(text: str, words: list[Word]) -> Command:
    return Timeline(_optional_id("timeline", words))


def _postmortem(text: str, words: list[Word]) -> Command:
    return Postmortem(_optional_id("postmortem", words))


def _scale(text: str, words: list[Word]) -> Command:
    name, (replicas,), opts = _target("scale", words, dict(_NAMESPACE), 2)
    return Scale(
        name, _count("scale", replicas.text, "replica count"), namespace=_namespace("scale", opts)
    )


def _rollback(text: str, words: list[Word]) -> Command:
    spec = {**_NAMESPACE, "--to-revision": "revision"}
    name, _, opts = _target("rollback", words, spec, 1)
    revision = _count("rollback", opts["revision"], "revision") if "revision" in opts else 0
    # As with kubectl, revision 0 means "the previous one".
    return Rollback(name, namespace=_namespace("rollback", opts), to_revision=revision or None)


def _restart(text: str, words: list[Word]) -> Command:
    name, _, opts = _target("restart", words, dict(_NAMESPACE), 1)
    return Restart(name, namespace=_namespace("restart", opts))


def _diagnose(text: str, words: list[Word]) -> Command:
    name, _, opts = _target("diagnose", words, dict(_NAMESPACE), 1)
    return Diagnose(name, namespace=_namespace("diagnose", opts))


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
    body = clean[len(head[0]) :]
    return parser(body, split(body, usage(sub)))


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
