"""The thin /inference path in front of aiohttp, over a real loopback socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lnn_service.server import bind, start, stop
from lnn_service.settings import Settings

BODY = b'{"input": [0.1, -0.2, 0.8, 0.5]}'


def post(body: bytes = BODY, path: str = "/inference", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 5)
    return status, headers, body


@pytest.fixture
async def port(settings: Settings) -> AsyncIterator[int]:
    sock = bind("127.0.0.1", 0, reuse_port=False)
    runner, fast = await start(settings, sock)
    assert fast is not None
    yield sock.getsockname()[1]
    await stop(runner, fast)


async def test_pipelined_requests_answer_in_order_then_hand_over(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bad = b'{"input": [1, 2]}'
    writer.write(post() + post(bad) + post() + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    statuses = []
    for _ in range(3):
        status, _, body = await read_response(reader)
        statuses.append(status)
        if status == 200:
            assert orjson.loads(body)["model_version"] == "cartpole-v1"
        else:
            assert "must have 4 numbers" in orjson.loads(body)["error"]
    assert statuses == [200, 400, 200]
    status, _, body = await read_response(reader)  # served by aiohttp after the hand-over
    assert status == 200
    assert orjson.loads(body)["model_version"] == "cartpole-v1"
    writer.close()
    await writer.wait_closed()


async def test_aiohttp_client_and_unhandled_forms_work(port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/inference", data=BODY) as resp:
            assert resp.status == 200
            assert len((await resp.json())["state"]) == 32

        async def chunks() -> AsyncIterator[bytes]:
            yield BODY[:10]
            yield BODY[10:]

        # Chunked bodies are left to aiohttp, which serves the same endpoint.
        async with session.post(f"{url}/inference", data=chunks()) as resp:
            assert resp.status == 200
            assert (await resp.json())["model_version"] == "cartpole-v1"
        async with session.get(f"{url}/metrics") as resp:
            text = await resp.text()
            assert 'lnn_requests_total{endpoint="/inference",outcome="ok"}' in text


async def test_down_drill_answers_503_on_the_fast_path(port: int, settings: Settings) -> None:
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {settings.admin_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/admin/faults", json={"down": True}, headers=auth) as r:
            assert r.status == 200
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post())  # the plain form the fast path answers itself
        status, _, body = await read_response(reader)
        assert (status, orjson.loads(body)["error"]) == (503, "drill: the service is down")
        writer.close()
        await writer.wait_closed()
        async with session.post(url + "/admin/faults", json={}, headers=auth) as r:
            assert r.status == 200
        async with session.post(url + "/inference", data=BODY) as r:
            assert r.status == 200


async def test_connection_close_and_oversized_body(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post(extra="Connection: close\r\n"))
    status, headers, _ = await read_response(reader)
    assert status == 200
    assert headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /inference HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 413
    assert b"/inference/batch" in body
    writer.close()


async def test_many_concurrent_connections_all_answered(port: int) -> None:
    async def client(n: int) -> list[int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        statuses = []
        for _ in range(n):
            writer.write(post())
            statuses.append((await read_response(reader))[0])
        writer.close()
        return statuses

    results = await asyncio.gather(*(client(20) for _ in range(16)))
    assert all(s == 200 for r in results for s in r)
    assert sum(len(r) for r in results) == 320


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=200))
async def test_garbage_never_takes_the_server_down(port: int, garbage: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post(garbage))
    status, _, _ = await read_response(reader)
    assert status in (200, 400)
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Garbage as a request head: whatever the answer (400, close, or waiting for
    # more), the server must go on serving other connections.
    writer.write(garbage + b"\r\n\r\n")
    await writer.drain()
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post())
    assert (await read_response(reader))[0] == 200
    writer.close()


async def test_deep_pipelines_are_paused_and_all_answered(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post() * 3000)
    # Not reading for a while fills the server's write buffer: it must pause this
    # connection's reads, keep serving others, and resume once answers drain.
    await asyncio.sleep(0.3)
    other_reader, other_writer = await asyncio.open_connection("127.0.0.1", port)
    other_writer.write(post())
    assert (await read_response(other_reader))[0] == 200
    other_writer.close()
    for _ in range(3000):
        status, _, _ = await read_response(reader)
        assert status == 200
    writer.close()


def test_head_inspection_takes_only_plain_inference_posts() -> None:
    from lnn_service.fastpath import MAX_BODY, _inspect

    ok = b"POST /inference HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
    assert _inspect(ok) == (12, False)
    assert _inspect(ok + b"Connection: close\r\n") == (12, True)
    assert _inspect(ok.replace(b"Content-Length", b"content-LENGTH")) == (12, False)
    for head in (
        b"GET /inference HTTP/1.1\r\nContent-Length: 1\r\n",
        b"POST /inference/batch HTTP/1.1\r\nContent-Length: 1\r\n",
        b"POST /inference HTTP/1.0\r\nContent-Length: 1\r\n",
        b"POST /inference HTTP/1.1\r\nHost: x\r\n",
        ok + b"Transfer-Encoding: chunked\r\n",
        ok + b"Content-Length: 12\r\n",
        ok + b"Expect: 100-continue\r\n",
        b"POST /inference HTTP/1.1\r\nContent-Length: -1\r\n",
        b"POST /inference HTTP/1.1\r\nContent-Length: 1e3\r\n",
        # Framing another parser could read differently, or that HTTP/1.1 forbids.
        ok + b"X: a\nTransfer-Encoding: chunked\r\n",  # bare LF
        ok + b"X: a\rTransfer-Encoding: chunked\r\n",  # bare CR
        ok + b"Transfer-Encoding : chunked\r\n",  # space before the colon
        ok + b"X: a\r\n chunked\r\n",  # obs-fold
        ok + b"X: a\x00b\r\n",
        ok + b"Upgrade: h2c\r\n",
        ok + b"Connection: keep-alive, close\r\n",
        ok + b"Connection: close\r\nConnection: close\r\n",
        b"POST /inference HTTP/1.1\r\nContent-Length: 12\r\n",  # no Host
        ok + b"Host: y\r\n",
    ):
        assert _inspect(head) is None, head
    assert _inspect(ok + b"Connection: Keep-Alive\r\n") == (12, False)
    assert _inspect(ok + b"X-Obs: caf\xe9\tb\r\n") == (12, False)
    # Over the limit is answered 413 and closed once the framing is unambiguous.
    huge = b"POST /inference HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n"
    assert _inspect(huge) == (MAX_BODY + 1, True)


@pytest.mark.parametrize(
    "hidden",
    [
        b"Transfer-Encoding : chunked\r\n",  # a space before the colon
        b"X: a\nTransfer-Encoding: chunked\r\n",  # behind a bare LF
        b"X: a\r\n chunked\r\n",  # an obs-fold continuation
    ],
)
async def test_ambiguous_framing_is_never_answered_on_the_fast_path(
    port: int, hidden: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    # A proxy that reads the hidden Transfer-Encoding sees one request here, a server that
    # takes the Content-Length sees two: neither reading may be answered.
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"0\r\n\r\n" + smuggled
    head = b"POST /inference HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (
        hidden,
        len(body),
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    status, headers, body = await read_response(reader)
    # aiohttp's parser refuses the head (plain text) and closes; the fast path used to answer
    # the body as JSON (a 400: it is not JSON) and read on.
    assert (status, headers["content-type"]) == (400, "text/plain; charset=utf-8"), body
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # The refusal is one line, not an ERROR with a traceback.
    assert [r.levelname for r in caplog.records if r.name == "aiohttp.server"] == ["INFO"]
    assert "refused a malformed request" in caplog.text
