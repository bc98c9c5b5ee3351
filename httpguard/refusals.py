"""aiohttp's server logger, with a request its parser refuses logged as one line.

aiohttp answers a malformed request (bad request line, invalid header, smuggling-shaped
framing) with a 400 and logs it with ``logger.exception``: an ERROR and a traceback for what
is the client's fault. Through this adapter such a refusal is one INFO line naming the peer
and the reason; every other exception is logged as aiohttp logs it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from httpguard.text import printable


class RefusalLog(logging.LoggerAdapter[logging.Logger]):
    """Pass as ``logger=`` to :class:`aiohttp.web.AppRunner` (it reaches every handler)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"))

    def exception(  # type: ignore[override]
        self,
        msg: object,
        *args: object,
        exc_info: Any = True,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            # The peer and aiohttp's message (which quotes the offending bytes) came from
            # outside: escaped, so a refused request cannot write lines of its own.
            peer = printable(str(args[0]), 64) if args else "?"
            self.logger.info(
                "refused a malformed request from %s: %s", peer, printable(str(exc.message))
            )
            return
        self.logger.exception(
            msg, *args, exc_info=exc_info, stack_info=stack_info, stacklevel=stacklevel, extra=extra
        )
