"""Markdown as GitHub renders it: Debian's ``cmark-gfm`` (GitHub's fork of cmark) with the
extensions GitHub turns on for documents (autolink, table, strikethrough), read back from its
XML output. For each top-level block: its text as a reader sees it, and the links in it."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tests.support.binaries import need

_NS = "{http://commonmark.org/xml/1.0}"
EXTENSIONS = ("autolink", "table", "strikethrough")


@dataclass
class Block:
    """One top-level block: its kind (``paragraph``, ``table``, ...), its text, and each
    link in it as (destination, text)."""

    kind: str
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)


def _text(node: ET.Element) -> str:
    if node.tag in (f"{_NS}text", f"{_NS}code"):
        return node.text or ""
    if node.tag in (f"{_NS}softbreak", f"{_NS}linebreak"):
        return " "
    return "".join(_text(child) for child in node)


def render(document: str) -> list[Block]:
    """The blocks of ``document`` as ``cmark-gfm`` parses it (fails or skips without it)."""
    binary = need("cmark-gfm")
    command = [binary, "--to", "xml"]
    for extension in EXTENSIONS:
        command += ["--extension", extension]
    done = subprocess.run(
        command, input=document.encode("utf-8"), capture_output=True, check=True, timeout=60
    )
    root = ET.fromstring(done.stdout)  # noqa: S314 (our own renderer's output)
    blocks: list[Block] = []
    for node in root:
        block = Block(node.tag.removeprefix(_NS), _text(node))
        block.links = [
            (link.get("destination", ""), _text(link)) for link in node.iter(f"{_NS}link")
        ]
        blocks.append(block)
    return blocks
