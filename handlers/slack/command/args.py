"""Reading the arguments of ``/incident`` subcommands: usage texts, options, ids, severities
and Kubernetes names. Every problem is a ``UsageError`` naming it, followed by the usage line.

Messages quote what the user typed; the Slack adapter escapes them like any other text.
"""

from __future__ import annotations

import re

from bot.domain.incident import Severity
from bot.domain.target import TargetKind, check_name, is_dns1123_label
from bot.errors import BadRequest, UsageError
from handlers.slack.command.words import Word

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
    "postmortem": "/incident postmortem [ID]: post the postmortem (a Markdown file: summary, impact, timeline, actions, response targets, and root cause and follow-ups to fill in) into the incident's channel; also at GET /api/incidents/ID/postmortem",
    "scale": "/incident scale deploy/NAME REPLICAS [-n NAMESPACE]: request a scale (needs approval; NAMESPACE defaults to the incident's alerts')",
    "rollback": "/incident rollback deploy/NAME [--to-revision N] [-n NAMESPACE]: request a rollback (needs approval)",
    "restart": "/incident restart deploy/NAME [-n NAMESPACE]: request a rolling restart (needs approval)",
    "diagnose": "/incident diagnose deploy/NAME [-n NAMESPACE]: pods, rollout and events of a deployment",
    "page": "/incident page [@USER|WHO]: page by hand in an incident's channel: nobody named, whom the severity's escalation path pages first; @USER, a Slack mention (and their email when the rotation has it); WHO, a member of the on-call rotation (e.g. primary) or a PagerDuty service a member is paged through, through PagerDuty",
    "oncall": "/incident oncall [SERVICE]: who is on call now, by level (PagerDuty's answer, or the policy's rotation)",
    "silence": "/incident silence [DURATION] [--matcher LABEL=VALUE …] [--broad]: silence the incident's alerts in Alertmanager for DURATION (e.g. 30m, 2h, 1d; default 2h; at most 7d); by default the matchers are the alert group's common labels; `=`, `!=`, `=~` and `!~` as in Alertmanager; --broad allows matching other incidents' alerts (an approver's is made at once; anyone else's waits for an approver's Approve)",
    "unsilence": "/incident unsilence: expire the silences firebreak made for the incident",
    "maintenance": "/incident maintenance [start [DURATION] [SERVICE] [--reason TEXT] | end [SERVICE]]: alone, the maintenance windows now and next; start opens an ad-hoc window from now (default 1h, at most 24h; no SERVICE: every service) in which new alerts open at most as P2 without a page or a channel (P0 still pages); end closes it, and an incident it held that still fires pages then",
    "split": "/incident split GROUP: in a storm's channel, move one alert group (its number on the card, its key or a unique prefix) to an incident of its own",
    "merge": "/incident merge ID: merge this channel's incident into incident ID (its alerts move there and this one closes)",
}
HELP_TEXT = (
    "*/incident* subcommands (ID is 42, #42 or INC-42; leave it out inside an incident channel):\n"
    + "\n".join(
        f"• `{line.split(': ', 1)[0]}`: {line.split(': ', 1)[1]}" for line in USAGE.values()
    )
)

MAX_TITLE = 250
# Slack itself sends at most a few thousand characters; anything longer is not typed.
MAX_TEXT = 8000
ID = re.compile(r"(?:#|inc-?)?([0-9]{1,12})", re.IGNORECASE)
EXPLICIT_ID = re.compile(r"(?:#|inc-?)([0-9]{1,12})", re.IGNORECASE)
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
BARE_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
# A rotation key as the policy writes it (primary, team-lead, dba_1).
ROTATION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SERVICE = 100
_DEPLOY_KINDS = ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps")
NAMESPACE = {"-n": "namespace", "--namespace": "namespace"}
# Subcommands whose argument is free text: only their first word is read as a word.
FREE_TEXT = frozenset({"note", "resolve", "split"})


def usage(sub: str) -> str:
    """The usage line of one subcommand (the full help for an unknown one)."""
    return f"Usage: {USAGE[sub]}" if sub in USAGE else HELP_TEXT


def fail(sub: str, problem: str) -> UsageError:
    return UsageError(f"{problem}\n{usage(sub)}")


def incident_id(sub: str, word: Word) -> int:
    m = ID.fullmatch(word.text)
    if m is None or int(m.group(1)) < 1:
        raise fail(sub, f"`{word.text}` is not an incident id (write 42, #42 or INC-42).")
    return int(m.group(1))


def options(sub: str, words: list[Word], spec: dict[str, str]) -> tuple[dict[str, str], list[Word]]:
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
            raise fail(sub, f"Unknown option `{name}`.")
        key = spec[name]
        if key in found:
            raise fail(sub, f"`{name}` is given twice.")
        if not eq:
            if i + 1 >= len(words):
                raise fail(sub, f"`{name}` needs a value.")
            i += 1
            value = words[i].text
        if not value:
            raise fail(sub, f"`{name}` needs a value.")
        found[key] = value
        i += 1
    return found, positional


def severity(sub: str, text: str) -> Severity:
    try:
        return Severity(text.upper())
    except ValueError:
        raise fail(sub, f"`{text}` is not a severity (P0, P1 or P2).") from None


def deployment(sub: str, word: Word) -> str:
    kind, slash, name = word.text.partition("/")
    if not slash or kind.lower() not in _DEPLOY_KINDS:
        raise fail(sub, f"`{word.text}` is not a deployment (write deploy/NAME).")
    try:
        return check_name(name, TargetKind.DEPLOYMENT)
    except BadRequest:
        raise fail(
            sub, f"`{name}` is not a valid deployment name (lower case, digits, - and .)."
        ) from None


def namespace(sub: str, opts: dict[str, str]) -> str | None:
    """The ``-n`` namespace, checked to be a namespace name (``bot.domain.target``). Whether
    it may be acted on (the policy's allow-list, never ``kube-*``) is the request's
    business, so that refusal names the allow-list and lands on the incident's timeline."""
    namespace = opts.get("namespace")
    if namespace is None:
        return None
    if not is_dns1123_label(namespace):
        raise fail(sub, f"`{namespace}` is not a valid namespace name.")
    return namespace


def count(sub: str, text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise fail(sub, f"`{text}` is not a valid {what} (a whole number, 0 or more).")
    return int(text)
