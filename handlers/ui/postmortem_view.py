"""The postmortem on the incident page: the same Markdown document as
``GET /api/incidents/{id}/postmortem`` and the file ``/incident postmortem`` posts, rendered to
HTML for reading, and offered as the Markdown itself for keeping.

The document escapes every text it took from alerts and people for Markdown
(``bot/services/markdown.py``); rendering it with raw HTML off and markdown-it's link check on
adds a second fence, so a label can neither open a tag nor make a ``javascript:`` link.
"""

from __future__ import annotations

from datetime import datetime

from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.policy.model import Policy
from bot.services.incidents.overview import IncidentRecord
from bot.services.incidents.postmortem import (
    PostmortemFacts,
    level_names,
    render_facts,
)

# CommonMark with tables (the timeline is one), no raw HTML, no typographic rewriting.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def postmortem_markdown(record: IncidentRecord, policy: Policy, now: datetime) -> str:
    """The postmortem of the incident ``record`` holds, as the API serves it."""
    facts = PostmortemFacts(
        incident=record.incident,
        alerts=record.alerts,
        timeline=record.timeline,
        actions=record.actions,
        timers=record.timers,
        level_names=level_names(policy),
    )
    return render_facts(facts, now=now)


# The section's own heading is an h2: the document's headings sit below it.
_HEADING_SHIFT = 2


def postmortem_html(document: str) -> Markup:
    """``document`` as HTML to place in the page (safe: see the module's docstring), its
    headings moved under the page section's, so the page's outline stays one outline."""
    tokens = _MARKDOWN.parse(document)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + _HEADING_SHIFT)}"
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return Markup(html)  # noqa: S704 - raw HTML is off in the renderer
