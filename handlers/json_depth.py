"""A bound on JSON nesting, checked before any parser that recurses sees the text.

``json.loads``, msgspec and pydantic all recurse per level, so a body nested a thousand levels
deep under a field no schema knows raised ``RecursionError`` (answered 503, which senders
retry for ever). Real payloads nest a handful of levels; anything deeper is refused as 400.
"""

from __future__ import annotations

from bot.errors import BadRequest

# Alertmanager nests 3 levels, PagerDuty v3 about 5, Slack's block_actions with a view's
# state about 10: this leaves a wide margin and stays far below Python's recursion limit.
MAX_JSON_DEPTH = 64

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


def check_json_depth(text: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ``BadRequest`` if ``text`` nests arrays or objects deeper than ``limit``.

    Brackets inside strings do not count. Text that is not JSON passes or fails as its
    brackets say; the parser that follows reports what else is wrong with it."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Fewer brackets than the limit cannot nest past it: the common case costs two counts.
    if data.count(b"{") + data.count(b"[") <= limit:
        return
    # Outside strings only: drop escape pairs that could hide or fake a quote (a backslash
    # appears only inside strings), then every other piece between quotes is outside one.
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in _OPEN:
            depth += 1
            if depth > limit:
                raise BadRequest(f"JSON nested deeper than {limit} levels")
        else:
            depth -= 1
