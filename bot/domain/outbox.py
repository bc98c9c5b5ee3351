"""The outbox: calls to the outside (Slack, PagerDuty, email) that change
something, stored as rows before they are sent.

A service adds an ``OutboundCall`` in the same transaction as the state change that caused it;
a worker (``bot.integrations.outbox.worker``) hands the rows later to the ``Sender`` of their
``target`` (``bot.ports``), in order per ``ordering_key``, and retries them until the target
confirms or refuses for good.

Calls of one incident refer to things Slack creates on the way (the channel id, the card's
``ts``). Those are *chat refs*: per incident a small name → value map. A call names the refs it
needs in ``binds`` (argument → ref, filled at send time) and the refs it produces in ``saves``
(ref → dotted path into Slack's answer, stored once the call succeeded). Refs are produced by
earlier rows of the same ordering key, so services use one key per incident
(``incident_key``); a row whose ref is still missing when its turn comes fails for good with
``missing_ref:<name>`` rather than guessing.

Stdlib only: this is core vocabulary shared by the store, the worker and the services.
"""

from __future__ import annotations

import email.utils
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.incident import JSON

# Targets: each names a ``Sender`` the app registers (bot.app).
SLACK = "slack"
# PagerDuty's Events API v2. Methods ``trigger``, ``acknowledge``, ``resolve``; args
# ``dedup_key`` and, for a trigger, ``summary``, ``source``, ``severity`` (critical, error,
# warning, info), ``component``, ``group``, ``class``, ``custom_details`` (an object) and
# ``links`` (``[{"href", "text"}]``). ``service`` names the rotation's PagerDuty service
# ("" or absent: the default routing key). The sender holds the routing keys.
PAGERDUTY = "pagerduty"
# How ``pagerduty_key`` names the default routing key.
DEFAULT_SERVICE = "default"
# Email over SMTP. Method ``send``; args ``to`` (a list of addresses), ``subject``, ``body``
# (plain text). The sender holds the server and the From address.
EMAIL = "email"

# Ref names services and the worker agree on.
CHANNEL = "channel"
CARD_CHANNEL = "card_channel"
CARD_TS = "card_ts"

ChatRefs = Mapping[str, str]


class OutboxStatus(enum.StrEnum):
    """``pending`` until the target confirms (``sent``) or refuses for good (``failed``);
    ``unconfigured`` when the bot ran without the target's settings and only logged the call."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNCONFIGURED = "unconfigured"
    # Dropped unsent: its incident was merged into another before the call left.
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """One call to make through the sender of ``target``, e.g. Slack's ``chat.postMessage``
    with its arguments.

    ``binds`` maps an argument name to the chat ref whose value fills it at send time;
    ``saves`` maps a ref name to the dotted path of the value to keep from the answer.
    """

    ordering_key: str
    method: str
    args: JSON
    incident_id: int | None = None
    binds: Mapping[str, str] = field(default_factory=dict)
    saves: Mapping[str, str] = field(default_factory=dict)
    target: str = SLACK

    def __post_init__(self) -> None:
        if not self.ordering_key or not self.method or not self.target:
            raise ValueError("an outbound call needs an ordering key, a method and a target")
        if (self.binds or self.saves) and self.incident_id is None:
            raise ValueError("binds and saves are chat refs of an incident: set incident_id")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A stored call and where it stands. ``attempts`` counts claims (sends begun);
    ``finished_at`` is when it stopped being pending, ``sent_at`` when Slack confirmed it."""

    id: int
    call: OutboundCall
    status: OutboxStatus
    attempts: int
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str = ""
    result: JSON | None = None


class Outcome(enum.Enum):
    """What a target's answer means for the row: ``SENT`` (done), ``RATE_LIMITED`` (the
    method waits ``retry_after`` seconds, the row with it), ``RETRY`` (after a backoff, up
    to the worker's attempts), ``FAILED`` (for good: sending again would fail again)."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one call went. ``method`` is the method that answered (for a 429 it may be a
    helper call the sender made on the way); ``kept`` is what to record of the answer on
    the row; ``answer`` is where ``saves`` are looked up."""

    outcome: Outcome
    method: str
    answer: JSON = field(default_factory=dict)
    kept: JSON = field(default_factory=dict)
    error: str = ""
    retry_after: float = 0.0


@dataclass(frozen=True, slots=True)
class Pace:
    """A slot a call takes before it leaves, shared by every worker of every replica (the
    slot is a database row): calls with the same ``key`` leave at most one per ``interval``
    seconds on average, with up to ``burst`` at once after a quiet spell. The target's
    sender names it (e.g. Slack's ``conversations.create`` is Tier 2, 20 a minute: one key
    for the workspace, 3 seconds apart).

    The slot keeps one instant per key, when the next call would be due if calls came
    evenly (the generic cell rate algorithm): a call may leave while that instant is at most
    ``tolerance`` ahead of now, and moves it on by ``interval``."""

    key: str
    interval: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.key or not math.isfinite(self.interval) or self.interval <= 0:
            raise ValueError("a pace needs a key and a positive interval")
        if self.burst < 1:
            raise ValueError("a pace's burst is at least 1")

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of now the due instant may run: room for the burst."""
        return timedelta(seconds=self.interval * (self.burst - 1))

    def take(self, due: datetime | None, now: datetime) -> tuple[datetime | None, datetime]:
        """Given the key's due instant (``None``: never used), answer ``(None, new due)``
        when a call may leave now, else ``(when it may, due unchanged)``."""
        due = now if due is None or due < now else due
        if due - now > self.tolerance:
            return due - self.tolerance, due
        return None, due + timedelta(seconds=self.interval)

    def held(self, due: datetime | None, until: datetime) -> datetime:
        """The due instant that lets no call leave before ``until`` (the target said 429)."""
        wanted = until + self.tolerance
        return wanted if due is None or due < wanted else due


class MissingRef(LookupError):
    """A call needs a chat ref that no earlier call saved (its producer failed or never ran)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# -- keys ----------------------------------------------------------------------------------------
def incident_key(incident_id: int) -> str:
    """The ordering key for everything about one incident (its channel, card, thread)."""
    return f"incident:{incident_id}"


def pagerduty_key(incident_id: int, service: str = "") -> str:
    """The ordering key of an incident's PagerDuty events to one ``service`` (``""``: the
    default routing key): a trigger before its acknowledge, its acknowledge before its
    resolve, none of them behind the incident's Slack calls, and a trigger stuck in retries
    on one service holding back nothing sent to another."""
    return f"pagerduty:{incident_id}:{service or DEFAULT_SERVICE}"


def email_key(incident_id: int, entry: int, address: str) -> str:
    """The ordering key of one email: the one ``entry`` (its timeline ``seq``) of the
    incident sends to ``address``. Emails need no order among themselves, so each has its
    own key and one stuck in retries (greylisting, a full mailbox) holds back no other."""
    return f"email:{incident_id}:{entry}:{address}"


def page_dedup_key(incident_id: int, entry: int) -> str:
    """The ``dedup_key`` of a page by hand, recorded as timeline ``entry`` of the incident.

    PagerDuty folds a trigger into the alert open with the same dedup key *and routing key*,
    notifying nobody new; a page by hand must ring a phone, so it has a key of its own.
    The path's pages use ``Incident.dedup_key`` (``firebreak-<id>``)."""
    return f"firebreak-{incident_id}-page-{entry}"


_OWN_DEDUP_KEY = re.compile(r"firebreak-(\d+)(?:-page-\d+)?")


def incident_of_dedup_key(key: str | None) -> int | None:
    """The firebreak incident a dedup key (PagerDuty's ``incident_key``) was made for, if
    it is one of firebreak's (``firebreak-<id>`` or ``firebreak-<id>-page-<entry>``)."""
    found = _OWN_DEDUP_KEY.fullmatch(key or "")
    return int(found.group(1)) if found else None


def channel_key(channel: str) -> str:
    """The ordering key for calls into a shared channel that belong to no incident."""
    return f"channel:{channel}"


# -- binds and saves ---------------------------------------------------------------------------
def bind_args(call: OutboundCall, refs: ChatRefs) -> JSON:
    """The call's arguments with every bound argument filled from ``refs``."""
    args = dict(call.args)
    for arg, ref in call.binds.items():
        value = refs.get(ref)
        if not value:
            raise MissingRef(ref)
        args[arg] = value
    return args


def lookup(answer: Mapping[str, Any], path: str) -> str | None:
    """The string at a dotted path (``channel.id``) of a Slack answer, if there is one."""
    node: object = answer
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) and node else None


def extract_saves(
    call: OutboundCall, answer: Mapping[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """The refs to store from a successful answer, and the paths the answer lacked."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for ref, path in call.saves.items():
        value = lookup(answer, path)
        if value is None:
            missing.append(path)
        else:
            found[ref] = value
    return found, missing


# -- timing --------------------------------------------------------------------------------------
def parse_retry_after(
    value: str | None, *, now: datetime, default: float = 30.0, cap: float = 3600.0
) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Slack sends whole seconds; anything unreadable waits ``default``. Never below zero or
    above ``cap`` (a broken header must not park a method for days).
    """
    if value is None or not value.strip():
        return default
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            return default
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return default
    return min(max(seconds, 0.0), cap)
