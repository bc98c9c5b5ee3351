"""HTTP/1.1 requests written by hand over a loopback socket, so a test decides exactly how the
bytes arrive: the body in several writes with pauses between them (as a proxy that splits a
request across TCP segments delivers it), or streamed from a generator while the answer is
read. Every request says ``Connection: close`` and the answer is read to the end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IO_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def request_head(
    method: str, path: str, headers: Mapping[str, str], *, content_length: int | None
) -> bytes:
    """The request line and headers (``Host`` and ``Connection: close`` added)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_response(raw: bytes) -> RawResponse:
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response head in {raw[:200]!r}"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    return RawResponse(
        status=int(status_line.split()[1]),
        headers=headers,
        body=body[: int(length)] if length is not None else body,
    )


def split_at(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``body`` cut at the given offsets (clamped, deduplicated), in order, none empty."""
    points = sorted({min(max(c, 0), len(body)) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points) if b > a]


def base_address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None, base_url
    assert parts.port is not None, base_url
    return parts.hostname, parts.port


async def send_in_parts(
    base_url: str,
    path: str,
    headers: Mapping[str, str],
    parts: Sequence[bytes],
    *,
    pause: float = 0.05,
    method: str = "POST",
) -> RawResponse:
    """Send the body made of ``parts``, each part its own write with ``pause`` s between."""
    host, port = base_address(base_url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = request_head(method, path, headers, content_length=sum(map(len, parts)))
        writer.write(head)
        await writer.drain()
        for part in parts:
            await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(), IO_TIMEOUT_S)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_response(raw)


async def stream_request(
    base_url: str,
    path: str,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    content_length: int,
) -> RawResponse:
    """POST ``body`` chunk by chunk while reading the answer; the server may answer (and stop
    reading) before the body is all sent, so writing stops quietly if the peer is gone."""
    host, port = base_address(base_url)
    reader, writer = await asyncio.open_connection(host, port)

    async def write() -> None:
        writer.write(request_head("POST", path, headers, content_length=content_length))
        with contextlib.suppress(ConnectionError):
            async for chunk in body:
                writer.write(chunk)
                await writer.drain()

    sender = asyncio.ensure_future(write())
    try:
        raw = await asyncio.wait_for(reader.read(), IO_TIMEOUT_S * 4)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_response(raw)


def blocking_request(
    address: tuple[str, int],
    head: bytes,
    parts: Sequence[bytes],
    *,
    pause: float = 0.0,
) -> RawResponse:
    """The same over a blocking socket (for tests whose server runs in another thread)."""
    with socket.create_connection(address, timeout=IO_TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head)
        for part in parts:
            if pause:
                time.sleep(pause)
            sock.sendall(part)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_response(b"".join(chunks))
