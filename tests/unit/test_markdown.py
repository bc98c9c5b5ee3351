"""``bot.services.markdown``: whatever text goes in, a renderer reads it back as the same
text on one line: no heading, list, quote, table cell, link, image, HTML or emphasis of its
own. Checked by parsing with a CommonMark parser (GitHub's tables on), for hostile samples
and for arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.markdown import code, inline, one_line, table
from tests.support.markdown import parse

HOSTILE = [
    "# heading",
    "## also\n# two lines",
    "- item",
    "+ item",
    "* item",
    "1. first",
    "2) second",
    "> quoted",
    "a | b | c",
    "\\| escaped pipe \\",
    "[click](http://evil.example)",
    "![img](http://evil.example/x.png)",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<http://evil.example>",
    "&lt;b&gt; &amp; &#60;",
    "**bold** __also__ *em* _em_ ~~gone~~",
    "`code` ``more``",
    "line one\nline two\n\n    indented code\n---",
    "trailing backslash \\",
    "tab\tand\x00nul\x1b[31mred",
    "=====",
    "    four spaces",
]


def _paragraph(markdown: str) -> str:
    parsed = parse(markdown)
    assert parsed.headings == []
    assert parsed.tables == []
    assert parsed.items == []
    assert parsed.html_blocks == []
    assert parsed.inline_structure == []
    assert parsed.strong == []
    assert parsed.emphasis == []
    (text,) = parsed.paragraphs
    return text


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_reads_back_as_itself(text: str) -> None:
    assert _paragraph(inline(text)) == one_line(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_in_its_list_item_and_table_cell(text: str) -> None:
    parsed = parse(f"- **Label:** {inline(text)}\n- {inline(text)}")
    assert parsed.items == [f"Label: {one_line(text)}", one_line(text)]
    assert parsed.headings == []
    assert parsed.html_blocks == []
    assert parsed.inline_structure == []
    assert parsed.strong == ["Label:"]
    rows = parse("\n".join(table(["a", "b"], [[inline(text), "x"]]))).tables
    assert rows == [[["a", "b"], [one_line(text), "x"]]]


def test_one_line_collapses_every_kind_of_line_break_and_hides_controls() -> None:
    assert one_line(" a\r\nb\u2028c\u2029d\x85e\x0bf\x1cg  ") == "a b c d e f g"
    assert one_line("bell\x07") == "bell\ufffd"


def test_only_what_markdown_reads_is_escaped() -> None:
    # Raw readers (Slack shows the file as text) see plain words where nothing is at stake.
    assert inline("lnn-service 2026-11-22 p99 > 100 ms") == "lnn-service 2026-11-22 p99 \\> 100 ms"
    assert inline("- leading dash") == "\\- leading dash"
    assert inline("12. twelfth") == "12\\. twelfth"


@pytest.mark.parametrize("text", ["a`b", "``", "`start", "end`", "pipe | in code", "x"])
def test_code_spans_hold_any_backticks(text: str) -> None:
    parsed = parse(code(text))
    (paragraph,) = parsed.paragraphs
    assert paragraph == text


# Printable text, including the characters Markdown cares about and line breaks.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("#*_`[]()<>|~&!\\-+=.:;'\"1 \n\t\r")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_any_text_is_a_single_paragraph_of_itself(text: str) -> None:
    if not one_line(text):
        return
    assert _paragraph(inline(text)) == one_line(text)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_any_text_fills_exactly_its_table_cell(left: str, right: str) -> None:
    rows = parse("\n".join(table(["a", "b"], [[inline(left), inline(right)]]))).tables
    assert rows == [[["a", "b"], [one_line(left), one_line(right)]]]
