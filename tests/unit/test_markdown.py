"""``bot.services.markdown``: whatever text goes in, a renderer reads it back as the same
text on one line: no heading, list, quote, table cell, link (bare URLs, domains and emails
included), image, HTML or emphasis of its own, and nothing invisible. Checked by parsing with
a CommonMark parser (GitHub's tables on, and linkify), for hostile samples and for arbitrary
text."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.markdown import code, heading, inline, one_line, table
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
    "see http://evil.example/login?next=x and HTTPS://EVIL.COM",
    "www.evil.com",
    "evil.com/login",
    "//evil.com/x",
    "ftp://files.evil.com",
    "mailto:alice@evil.com and mailto:a@b",
    "xmpp:alice@evil.com/phone",
    "alice@evil.com",
    "http\\://evil.com",
    "пример.рф",
    "lnn-service.prod.svc.cluster.local:8080",
    "right\u202eto left \u2066isolate\u2069 zero\u200bwidth\u200d joiner \ufeffbom \x9bcsi \xadshy",
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
    assert inline("v1.4 at 10:30. Then @here, a/b") == "v1.4 at 10:30. Then @here, a/b"
    assert inline("http://a.io x@y.z") == "http:\\//a\\.io x\\@y\\.z"


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("see http://evil.example/x", "http://evil.example/x"),
        ("www.evil.com", "http://www.evil.com"),
        ("evil.com", "http://evil.com"),
        ("alice@evil.com", "mailto:alice@evil.com"),
        ("mailto:a@b", "mailto:a@b"),
        ("//evil.com/x", "//evil.com/x"),
    ],
)
def test_the_test_parser_links_what_a_linkifying_renderer_links(text: str, href: str) -> None:
    # Without this, the tests above could not see a bare URL become a link.
    assert parse(text).inline_structure == ["link_open"], href
    assert _paragraph(inline(text)) == text


INVISIBLE = ["\x9b", "\x85x", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\ud800"]


@pytest.mark.parametrize("char", INVISIBLE)
def test_c1_bidi_and_zero_width_characters_do_not_survive(char: str) -> None:
    made = inline(f"a{char}b")
    assert char not in made
    assert made in ("a\ufffdb", "a b", "a\ufffdxb", "a xb")


def test_every_control_and_format_character_becomes_visible() -> None:
    # The pattern is written out for speed; it must cover this Python's Unicode categories.
    hidden = [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Cs")
    ]
    assert len(hidden) > 2000
    assert {one_line(f"a{c}b") for c in hidden} <= {"a\ufffdb", "a b"}
    # Visible letters, marks and symbols are kept as they are.
    assert one_line("é ü ß 日本 🔥 e\u0301 ‰ ℃") == "é ü ß 日本 🔥 e\u0301 ‰ ℃"


@pytest.mark.parametrize("text", ["a`b", "``", "`start", "end`", "pipe | in code", "x"])
def test_code_spans_hold_any_backticks(text: str) -> None:
    parsed = parse(code(text))
    (paragraph,) = parsed.paragraphs
    assert paragraph == text


# Text made of the characters Markdown cares about, line breaks, any character, and the
# pieces links are made of.
TEXT = st.lists(
    st.one_of(
        st.sampled_from(list("#*_`[]()<>|~&!\\-+=.:;'\"1@/w \n\t\r")),
        st.characters(codec="utf-8"),
        st.sampled_from(
            [
                "http://",
                "https://",
                "ftp://",
                "//",
                "www.",
                "mailto:",
                "xmpp:",
                "a@b",
                ".com",
                ".io",
                "evil",
                ".рф",
                "localhost",
                ":8080",
                "\u202e",
                "\u200b",
                "\x9b",
            ]
        ),
    ),
    max_size=30,
).map("".join)


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


# Text made mostly of what links are made of: schemes, hosts, top-level domains, addresses.
LINKISH = st.lists(
    st.sampled_from(
        [
            "http://",
            "HTTPS://",
            "ftp://",
            "//",
            "www.",
            "mailto:",
            "xmpp:",
            "@",
            "evil",
            "a",
            "1",
            ".",
            ".com",
            ".io",
            ".рф",
            "xn--p1ai",
            "localhost",
            ":8080",
            "/",
            "?q=",
            " ",
            "(",
            ")",
            "\\",
            "*",
            "_",
            "[",
            "]",
            "<",
            ">",
            "-",
            ":",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(LINKISH)
def test_no_text_becomes_a_link(text: str) -> None:
    if not one_line(text):
        return
    assert _paragraph(inline(text)) == one_line(text)
    rows = parse("\n".join(table(["a"], [[inline(text)]]))).tables
    assert rows == [[["a"], [one_line(text)]]]


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, LINKISH.map(lambda text: text + " #"), st.sampled_from(["#", "a ##"])))
def test_any_text_ends_a_heading_as_itself(text: str) -> None:
    parsed = parse(f"# Title: {heading(text)}")
    assert parsed.headings == [(1, f"Title: {one_line(text)}".strip())]
    assert parsed.inline_structure == []
