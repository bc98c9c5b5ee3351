"""The outbox's sender for target ``slack`` without ``SLACK_BOT_TOKEN``: nothing is sent;
each call is written to the log as the person would have read it in Slack (the card's title,
fields, alerts, triage steps and button labels; a thread note's text), and its row is
marked ``unconfigured``, which never holds back the incident's later rows.

So a local run (``make run``) shows an incident's card in the log, and a real workspace
shows it in Slack, from the same outbox rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.incident import JSON
from bot.domain.outbox import CARD_CHANNEL, CARD_TS, CHANNEL, OutboundCall, Outcome, SendResult
from bot.integrations.slack.files import UPLOAD

log = logging.getLogger("firebreak.slack")

REASON = "SLACK_BOT_TOKEN is not set"
INDENT = "    | "
# Slack's three escapes (bot.text.escape), undone for a reader of the log.
_UNESCAPE = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# ``<!date^1795341600^{date_short_pretty}|2026-11-22 10:00 UTC>``: Slack shows the date in
# the reader's time zone; the log shows the fallback text after the bar.
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
# ``<https://…/ui/incidents/42|Incident #42>``: the log shows the label and the address, so
# a reader without Slack can open the incident's page.
_LINK = re.compile(r"<(https?://[^|>]*)\|([^>]*)>")


def _plain(text: object) -> str:
    out = _LINK.sub(r"\2 (\1)", _DATE.sub(r"\1", str(text)))
    for escaped, char in _UNESCAPE:
        out = out.replace(escaped, char)
    return out


def _text_of(element: Mapping[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, Mapping):
        return _plain(text.get("text", ""))
    return _plain(text or "")


def block_lines(blocks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Block Kit blocks as plain lines: headers, sections and their fields, context, and
    the buttons as ``[Label]``."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {_text_of(block)} ==")
        elif kind == "section":
            if block.get("text"):
                lines += _text_of(block).splitlines()
            for field in block.get("fields") or []:
                lines.append(" ".join(_text_of({"text": field}).splitlines()))
        elif kind == "context":
            lines.append(" · ".join(_text_of(e) for e in block.get("elements") or []))
        elif kind == "actions":
            labels = [f"[{_text_of(e)}]" for e in block.get("elements") or []]
            lines.append("buttons: " + " ".join(labels))
    return lines


def _where(call: OutboundCall) -> str:
    channel = call.args.get("channel") or call.args.get("channel_id")
    if channel:
        return str(channel)
    if call.binds.get("ts") == CARD_TS:
        return "the card (updated in place)"
    if call.binds.get("thread_ts") == CARD_TS:
        return "the card's thread"
    if call.binds.get("channel") == CHANNEL:
        return "the incident's channel"
    if CARD_CHANNEL in (call.binds.get("channel"), call.binds.get("channel_id")):
        return "the card's channel"
    return "-"


def _file(call: OutboundCall, incident: str) -> str:
    """A file is named and measured, not dumped: it may be a whole postmortem or a PNG."""
    args = call.args
    content = args.get("content")
    size = len(content.encode("utf-8")) if isinstance(content, str) else None
    encoded = args.get("content_base64")
    if size is None and isinstance(encoded, str):
        size = len(encoded) * 3 // 4
    line = f"{incident}would upload {_plain(args.get('filename', '-'))} ({size or 0:,} bytes)"
    line += f" to {_where(call)}: {_plain(args.get('title', ''))}"
    comment = _plain(args.get("initial_comment", ""))
    return line + (f"\n{INDENT}{comment}" if comment else "")


def describe(call: OutboundCall) -> str:
    """What the call would have shown, as a multi-line text for one log record."""
    args: JSON = call.args
    incident = f"incident {call.incident_id}: " if call.incident_id is not None else ""
    method = call.method
    if method == "conversations.create":
        return f"{incident}would create channel #{args.get('name', '-')}"
    if method == "conversations.setTopic":
        return f"{incident}would set the channel topic: {_plain(args.get('topic', ''))}"
    if method == "conversations.invite":
        return f"{incident}would invite {args.get('users', '-')}"
    if method == UPLOAD:
        return _file(call, incident)
    head = f"{incident}{method} to {_where(call)}"
    blocks = args.get("blocks")
    lines = block_lines(blocks) if isinstance(blocks, list) and blocks else []
    if not lines:
        lines = _plain(args.get("text", "")).splitlines() or ["-"]
    return head + "\n" + "\n".join(INDENT + line for line in lines)


class LogSender:
    """The Slack target while Slack is not configured: every call is logged, none sent."""

    configured = False

    async def send(self, method: str, args: JSON) -> SendResult:
        """A failed ``not_configured`` result, sending nothing. The worker never calls it
        while ``configured`` is false; a refusal is the safe answer if it ever did."""
        return SendResult(Outcome.FAILED, method, error="not_configured")

    def skip(self, call: OutboundCall) -> str:
        """Log what ``call`` would have shown in Slack; the reason it was not sent."""
        log.info("Slack is not configured; %s", describe(call))
        return REASON
