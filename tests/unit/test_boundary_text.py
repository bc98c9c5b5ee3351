"""The depth bound and the log escaping, on their own."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp.http_exceptions import LineTooLong

from bot.errors import BadRequest
from handlers.json_depth import MAX_JSON_DEPTH, check_json_depth
from httpguard.refusals import RefusalLog
from httpguard.text import printable


def test_depth_at_the_bound_passes_and_one_more_is_refused() -> None:
    check_json_depth("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(BadRequest, match="nested deeper than 64"):
        check_json_depth("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 1000, "b": '\\"[{' * 100, "c": [["x"]]})
    check_json_depth(text)
    check_json_depth(text.encode())


def test_many_siblings_are_not_depth() -> None:
    check_json_depth(json.dumps([[[1]] for _ in range(10_000)]))


def test_unclosed_brackets_count_as_nesting() -> None:
    with pytest.raises(BadRequest):
        check_json_depth(b"{" * 100_000)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("two\nlines", "two\\nlines"),
        ("cr\r\x1b[31mred", "cr\\r\\x1b[31mred"),
        ("nul\x00", "nul\\x00"),
        ("\u2028sep", "\\u2028sep"),
        ("déjà vu", "déjà vu"),
    ],
)
def test_printable_escapes_what_could_break_a_line(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_cuts_long_text() -> None:
    assert printable("x" * 1000, 10) == "x" * 10 + "…"


def test_malformed_http_is_one_escaped_info_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.boundary.aiohttp")
    caplog.set_level(logging.DEBUG, logger=logger.name)
    try:
        raise LineTooLong("Header value is too long \x1b[31m", "8190")
    except LineTooLong:
        # As aiohttp's RequestHandler reports a request its parser refused.
        RefusalLog(logger).exception("Error handling request from %s", "127.0.0.1\n")
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    message = record.getMessage()
    assert message.startswith("refused a malformed request from 127.0.0.1\\n: Got more than")
    assert "\n" not in message
    assert "\x1b" not in message
