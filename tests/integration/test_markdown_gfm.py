"""``bot.services.markdown`` read by GitHub's own renderer (Debian's ``cmark-gfm``, autolink
on): escaped text is a paragraph of itself, and no bare URL or ``www.`` address in it becomes
a link. What GitHub still links are email addresses (its email autolinks read the text after
escapes are resolved, so no escape can split them): each is shown as the address itself."""

from __future__ import annotations

import random

import pytest

from bot.services.markdown import inline, one_line
from tests.support.gfm import render

LINKS = [
    "see http://evil.example/login?next=x and HTTPS://EVIL.COM",
    "ftp://files.evil.com/x",
    "www.evil.com",
    "www.123.com",
    "(www.evil.com)",
    "*www.evil.com* and _http://x.com_ and ~~https://x.io~~",
    "www.\\123",
    "http\\://evil.com",
    "[click](http://evil.example) ![img](http://evil.example/x.png) <http://evil.example>",
    "mailto:alice@evil.com, xmpp:alice@evil.com/phone and alice@evil.com",
]
PIECES = [
    *["http://", "HTTPS://", "ftp://", "//", "www.", "WWW.", "mailto:", "xmpp:", "@"],
    *["evil", "a", "1", ".", ".com", ".io", ".рф", "xn--p1ai", "localhost", ":8080", "/"],
    *["?q=", " ", "(", ")", "\\", "*", "_", "[", "]", "<", ">", "-", ":", "~", "&", "w"],
]


def samples(count: int, seed: int) -> list[str]:
    """``LINKS`` and ``count`` strings of link pieces, the same ones on every run."""
    rng = random.Random(seed)
    made = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))) for _ in range(count)]
    return [text for text in [*LINKS, *made] if one_line(text)]


def _is_an_address_as_itself(destination: str, text: str) -> bool:
    return "@" in text and destination in (text, f"mailto:{text}", f"xmpp:{text}")


def test_the_renderer_links_bare_urls_and_www_addresses() -> None:
    # Without escaping, the same renderer makes links of these: the test below can fail.
    for text in LINKS[:7]:
        (block,) = render(text)
        assert block.links, text


@pytest.mark.parametrize("seed", [1, 2])
def test_escaped_text_reads_as_itself_and_links_no_url(seed: int) -> None:
    texts = samples(4000, seed)
    blocks = render("\n\n".join(inline(text) for text in texts))
    assert len(blocks) == len(texts)
    for text, block in zip(texts, blocks, strict=True):
        assert (block.kind, block.text) == ("paragraph", one_line(text)), text
        for destination, shown in block.links:
            assert _is_an_address_as_itself(destination, shown), (text, destination)
