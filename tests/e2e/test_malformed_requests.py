"""A request aiohttp's parser refuses costs ``firebreak serve`` one log line, not a trace."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Processes
from tests.support.processes import firebreak_env

pytestmark = pytest.mark.slow


async def test_a_malformed_request_is_a_400_and_one_line(
    processes: Processes, sqlite_url: str
) -> None:
    bot = await processes.firebreak("firebreak", env=firebreak_env(sqlite_url))
    port = urlsplit(bot.base_url).port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
    )
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status.split()[1] == b"400", status
    await asyncio.wait_for(reader.read(), 5)  # and the connection is closed
    writer.close()
    log = bot.log_path.read_text()
    assert log.count("refused a malformed request") == 1, log
    assert "Traceback" not in log
    assert "Error handling request" not in log
