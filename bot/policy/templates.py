"""Triage and mitigation steps are templates: ``kubectl get pods -n {namespace} -l {selector}``.

``{name}`` is a placeholder (a label name); ``{{`` and ``}}`` are literal braces. A person
pastes the filled step into a shell, so filling is conservative: only values known to be safe
words are substituted (the caller vets them, see ``bot.policy.targets.template_values``) and a
placeholder without one stays visible as ``{name}``, never blank and never half-filled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.policy.kubernetes import LABEL_NAME

# A label value may be substituted only if it is made of these (no spaces, quotes, `$`, `;`,
# backticks or globbing characters): enough for hosts, versions, paths and selectors. It must
# start with a letter or digit, so a value cannot become an option (`--server=…`) of the
# command it is pasted into.
SAFE_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/=-]{0,127}", re.ASCII)
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text``; ``ValueError`` for an unbalanced brace or a
    placeholder that is not a label name."""
    names: list[str] = []
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise ValueError(
                f"unbalanced {token!r} at character {m.start() + 1} (write {token * 2} for a "
                "literal brace)"
            )
        name = m.group(1)
        if LABEL_NAME.fullmatch(name) is None:
            raise ValueError(
                f"{token!r} is not a placeholder (a label name such as {{namespace}}); write "
                "{{ and }} for literal braces"
            )
        names.append(name)
    return names


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder that has a value replaced by it. A malformed template
    (the policy check refuses those) is returned as written."""
    try:
        placeholders(text)
    except ValueError:
        return text

    def one(m: re.Match[str]) -> str:
        piece = m.group(0)
        if piece in ("{{", "}}"):
            return piece[0]
        return values.get(m.group(1), piece)

    return _TOKEN.sub(one, text)


def is_safe_value(value: str) -> bool:
    """Whether an alert label's value may be pasted into a shell command as one word."""
    return SAFE_VALUE.fullmatch(value) is not None
