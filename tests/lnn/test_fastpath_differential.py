"""The fast path against h11: no byte stream makes them disagree on where a request ends.

Hypothesis builds pipelined streams of requests with the framing tricks request smuggling
relies on (duplicate and conflicting Content-Length, Transfer-Encoding in many spellings,
obs-fold, bare LF and CR, spaces before the colon, control characters, missing or doubled
Host) and feeds them to :class:`FastProtocol` split at arbitrary points. For every request
the fast path answers itself, h11 must have read a complete, valid request with the same
body ending at the same offset; everything else the fast path must refuse and close, or
hand over to aiohttp without having consumed any of it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lnn_service.fastpath import MAX_BODY, MAX_HEAD, _inspect
from lnn_service.service import Service
from lnn_service.settings import Settings
from tests.support.http_reference import FastReading, H11Reading, fast_read, h11_read

VALID = b'{"input": [0.1, -0.2, 0.8, 0.5]}'
WRONG = b'{"input": [1, 2]}'
CRLF = b"\r\n"


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    service = Service(settings)
    await service.start()
    yield service
    service.close()


def check(stream: bytes, fast: FastReading, ref: H11Reading) -> None:
    """The agreement the fast path owes h11 on ``stream``."""
    refused = bool(fast.statuses) and fast.statuses[-1] == 413
    served = fast.statuses[:-1] if refused else fast.statuses
    assert len(served) <= len(ref.requests), "the fast path answered a request h11 did not read"
    start = 0
    for status, request in zip(served, ref.requests, strict=False):
        assert (request.method, request.target, request.http_version) == (
            b"POST",
            b"/inference",
            b"1.1",
        )
        # The fast path's own reading of the head h11 delimited: the same body length.
        head = stream[start : request.end - len(request.body) - 2]
        assert _inspect(head) == (len(request.body), not request.keep_alive), head
        assert status == (200 if request.body == VALID else 400), (status, request.body)
        start = request.end
    if refused:  # 413 for a body over the limit, then nothing more is read
        assert fast.closed
        assert fast.handed_over is None
        return
    if fast.closed:  # only a request asking to close ends the connection
        assert served
        assert not ref.requests[len(served) - 1].keep_alive
        return
    rest = stream[start:]
    if fast.handed_over is not None:
        assert fast.handed_over == rest, "the fast path consumed bytes it handed over"
        return
    assert fast.buffered == rest
    if len(ref.requests) > len(served):
        # h11 completed a request the fast path still waits on: only possible while the
        # fast path has not seen a CRLF CRLF head end (h11 also accepts bare LF).
        assert b"\r\n\r\n" not in rest


# -- generated streams ---------------------------------------------------------------------

REQUEST_LINES = [b"POST /inference HTTP/1.1"] * 6 + [
    b"POST /inference HTTP/1.0",
    b"post /inference HTTP/1.1",
    b"POST /inference/batch HTTP/1.1",
    b"GET /health HTTP/1.1",
    b"POST  /inference HTTP/1.1",
    b"POST /inference HTTP/1.1 ",
]
TE_NAMES = [
    b"Transfer-Encoding",
    b"transfer-encoding",
    b"TRANSFER-ENCODING",
    b"Transfer-Encoding ",
    b"Transfer-Encoding\t",
    b" Transfer-Encoding",
    b"Transfer_Encoding",
]
TE_VALUES = [
    b"chunked",
    b"Chunked",
    b" chunked",
    b"chunked ",
    b"chunked, identity",
    b"identity",
    b"identity, chunked",
    b"\x0bchunked",
    b"chunked\x00",
]
EXTRAS = [
    b"Expect: 100-continue",
    b"Upgrade: h2c",
    b"Connection: close",
    b"Connection: Close",
    b"Connection: keep-alive",
    b"Connection: keep-alive, close",
    b"Connection: close, upgrade",
    b"X-Ctl: a\x01b",
    b"X-Del: a\x7f",
    b"X-Obs: caf\xe9",
    b"X-Nul: a\x00b",
    b"X-Tab: a\tb",
    b"X Space: v",
    b": no-name",
    b"X-Empty:",
    b"Content-Type: application/json",
]
ENDINGS = [CRLF] * 10 + [b"\n", b"\r"]


@st.composite
def content_lengths(draw: st.DrawFn, length: int) -> list[bytes]:
    kind = draw(
        st.sampled_from(
            ["exact"] * 6
            + ["missing", "same twice", "conflicting", "plus", "padded", "list", "short", "long"]
            + ["space before colon", "over the limit", "huge", "hex", "negative", "folded"]
        )
    )
    exact = b"Content-Length: %d" % length
    return {
        "exact": [exact],
        "missing": [],
        "same twice": [exact, exact],
        "conflicting": [exact, b"Content-Length: %d" % (length + 3)],
        "plus": [b"Content-Length: +%d" % length],
        "padded": [b"Content-Length: \t %d \t" % length],
        "list": [b"Content-Length: %d, %d" % (length, length)],
        "short": [b"Content-Length: %d" % max(0, length - 5)],
        "long": [b"Content-Length: %d" % (length + 5)],
        "space before colon": [b"Content-Length : %d" % length],
        "over the limit": [b"Content-Length: %d" % (MAX_BODY + 1)],
        "huge": [b"Content-Length: " + b"9" * 5000],
        "hex": [b"Content-Length: 0x%x" % length],
        "negative": [b"Content-Length: -%d" % length],
        "folded": [b"Content-Length: %d" % length, b" 7"],
    }[kind]


@st.composite
def plain_requests(draw: st.DrawFn) -> bytes:
    """What real clients send: the fast path must serve these itself."""
    body = draw(st.sampled_from([VALID, VALID, WRONG, b"", b"{}"]))
    lines = [b"Host: x", b"Content-Length: %d" % len(body)]
    lines += draw(
        st.lists(
            st.sampled_from(
                [
                    b"Content-Type: application/json",
                    b"Connection: keep-alive",
                    b"User-Agent: wrk",
                    b"X-Obs: caf\xe9",
                    b"X-Tab: a\tb",
                    b"X-Empty:",
                    b"content-length:%d" % len(body),
                ][: 6 if draw(st.integers(0, 9)) else 7]
            ),
            max_size=2,
        )
    )
    lines = list(draw(st.permutations(lines)))
    return b"POST /inference HTTP/1.1\r\n" + b"".join(line + CRLF for line in lines) + CRLF + body


@st.composite
def tricky_requests(draw: st.DrawFn) -> bytes:
    """The framing tricks, each request mixing a few of them."""
    body = draw(st.sampled_from([VALID, VALID, WRONG, b"", b"{}"]))
    lines: list[bytes] = []
    lines += draw(st.sampled_from([[b"Host: x"]] * 4 + [[], [b"Host: x", b"Host: y"], [b"host:x"]]))
    lines += draw(content_lengths(len(body)))
    chunked = False
    if draw(st.integers(0, 3)) == 0:
        te = draw(st.sampled_from(TE_NAMES)) + b":" + draw(st.sampled_from(TE_VALUES))
        if draw(st.booleans()):  # as an obs-fold continuation of another header
            lines += [b"X-Folded: a", b" " + te]
        else:
            lines.append(te)
        chunked = draw(st.booleans())
    lines += draw(st.lists(st.sampled_from(EXTRAS), max_size=2))
    lines = list(draw(st.permutations(lines)))
    head = draw(st.sampled_from(REQUEST_LINES)) + draw(st.sampled_from(ENDINGS))
    for line in lines:
        head += line + draw(st.sampled_from(ENDINGS))
    head += draw(st.sampled_from([CRLF] * 6 + [b"\n"]))
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    return head + body


@st.composite
def split_streams(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    # Mostly plain requests, so that the fast path has served some before a tricky one.
    mixed = st.one_of(plain_requests(), plain_requests(), tricky_requests())
    stream = b"".join(draw(st.lists(mixed, min_size=1, max_size=5)))
    if draw(st.integers(0, 4)) == 0:
        stream += draw(st.binary(max_size=40))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(stream)), max_size=8))))
    bounds = [0, *cuts, len(stream)]
    return stream, [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def pipelined(*bodies: bytes, extra: bytes = b"") -> bytes:
    return b"".join(
        b"POST /inference HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s"
        % (extra, len(body), body)
        for body in bodies
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(split=split_streams())
# Smuggling classics, always run: TE and CL together, CL.CL, a TE hidden by a bare LF, by a
# space before the colon and by obs-fold, and a bare-LF head end.
@example(split=(pipelined(VALID, extra=b"Transfer-Encoding: chunked\r\n"), []))
@example(split=(pipelined(VALID, extra=b"Content-Length: 5\r\n"), []))
@example(split=(pipelined(VALID, extra=b"X: a\nTransfer-Encoding: chunked\r\n"), []))
@example(split=(pipelined(VALID, extra=b"Transfer-Encoding : chunked\r\n"), []))
@example(split=(pipelined(VALID, extra=b"X: a\r\n chunked\r\n"), []))
@example(split=(b"POST /inference HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\nabc", []))
async def test_fast_path_agrees_with_h11(
    service: Service, split: tuple[bytes, list[bytes]]
) -> None:
    stream, chunks = split
    check(stream, await fast_read(service, chunks or [stream]), h11_read(stream))


async def test_every_split_point_reads_the_same(service: Service) -> None:
    stream = (
        pipelined(VALID, WRONG, VALID, extra=b"Content-Type: application/json\r\n")
        + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    whole = await fast_read(service, [stream])
    assert whole.statuses == [200, 400, 200]
    assert whole.handed_over == b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    check(stream, whole, h11_read(stream))
    for cut in range(1, len(stream)):
        assert await fast_read(service, [stream[:cut], stream[cut:]]) == whole, cut
    assert await fast_read(service, [bytes([b]) for b in stream]) == whole


async def test_a_complete_head_over_the_bound_is_handed_over_whole(service: Service) -> None:
    # The fast path serves heads of at most MAX_HEAD bytes; one that arrives complete in a
    # single segment is no exception, and aiohttp gets every byte of it.
    filler = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    stream = pipelined(VALID, extra=filler + filler)
    assert stream.index(b"\r\n\r\n") + 4 > MAX_HEAD
    reading = await fast_read(service, [stream])
    assert reading.statuses == []
    assert reading.handed_over == stream
