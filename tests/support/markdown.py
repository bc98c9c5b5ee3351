"""A Markdown document as a renderer reads it (markdown-it-py, CommonMark with GitHub's tables
and strikethrough): its headings, its tables as plain text, and what it would turn into
links, images, HTML or emphasis. Tests of escaping read documents through here, not with
string searches."""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Inline tokens that only escaped text can keep out of a document made from untrusted text.
STRUCTURE = frozenset({"link_open", "image", "html_inline", "s_open"})


def plain(token: Token) -> str:
    """The text an inline token renders to, with code spans as their content."""
    return "".join(
        child.content if child.type in ("text", "code_inline") else " "
        for child in token.children or []
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    )


@dataclass
class Parsed:
    """What a renderer sees in a document."""

    headings: list[tuple[int, str]] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)
    inline_structure: list[str] = field(default_factory=list)
    strong: list[str] = field(default_factory=list)
    emphasis: list[str] = field(default_factory=list)


def parse(document: str) -> Parsed:
    tokens = PARSER.parse(document)
    out = Parsed()
    row: list[str] | None = None
    context: list[str] = []
    for index, token in enumerate(tokens):
        if token.type.endswith("_open") and token.nesting == 1:
            context.append(token.type)
        elif token.type.endswith("_close"):
            context.pop()
        if token.type == "html_block":
            out.html_blocks.append(token.content)
        elif token.type == "table_open":
            out.tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            out.tables[-1].append(row)
            row = None
        elif token.type == "inline":
            text = plain(token)
            parent = tokens[index - 1].type
            if parent == "heading_open":
                out.headings.append((int(tokens[index - 1].tag[1]), text))
            elif parent in ("th_open", "td_open") and row is not None:
                row.append(text)
            elif "list_item_open" in context:
                out.items.append(text)
            else:
                out.paragraphs.append(text)
            children = token.children or []
            out.inline_structure += [c.type for c in children if c.type in STRUCTURE]
            out.strong += [
                children[i + 1].content
                for i, c in enumerate(children[:-1])
                if c.type == "strong_open"
            ]
            out.emphasis += [
                children[i + 1].content for i, c in enumerate(children[:-1]) if c.type == "em_open"
            ]
    return out
