"""Untrusted text made safe. Storable (``clean``): no NUL (PostgreSQL text refuses it) and no
lone surrogates (UTF-8 cannot encode them); intake cleans what senders wrote, the core cleans
error texts it keeps on a row. Inert in chat markup (``escape``, ``inert``): Slack's control
sequences (``<!channel>``, ``<@U123>``) arrive as characters; both the Slack adapters
(``bot.integrations.slack``, ``handlers.slack``) and the error replies use them."""

from __future__ import annotations

import re

# Bare words Slack may still turn into broadcasts when a message is posted with link_names
# or parse=full; a zero-width space after the `@` keeps them readable but inert.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ZWSP = "\u200b"
# Slack ids: users are U… (or W… on Enterprise Grid), user groups S…, upper-case letters and
# digits. One definition for the policy's checks and both Slack adapters.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")


def is_user_id(value: str) -> bool:
    return _USER_ID.fullmatch(value) is not None


def is_group_id(value: str) -> bool:
    return _GROUP_ID.fullmatch(value) is not None


def clean(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def escape(text: str) -> str:
    """Replace ``&``, ``<`` and ``>`` by their entities, as Slack asks for any text it parses."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(text: str) -> str:
    """``escape`` plus bare ``@channel``/``@here``/``@everyone`` defused.

    Use it for long free text the bot relays, e.g. a postmortem posted to a channel."""
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), escape(text))


# Characters that would end a Slack link's URL or start its label, and blanks that would cut
# it short: percent-encoded, so a URL firebreak built stays one link.
_LINK_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", "\n": "%0A"}


def link(url: str, label: str) -> str:
    """A Slack link ``<url|label>`` to a URL firebreak built from its own settings (never one
    from a payload); the label is escaped, so it cannot become markup of its own."""
    safe = "".join(_LINK_UNSAFE.get(char, char) for char in url)
    return f"<{safe}|{escape(label)}>"


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its first ``limit - 1`` and ``…``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
