"""Checking, before anything starts, that the ports the components will listen on are free."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

LOOPBACK = "127.0.0.1"


class PortTaken(Exception):
    """A port the launcher needs is already in use; the message says which and how to move."""


def check_free(ports: Mapping[str, tuple[int, str]]) -> None:
    """``ports`` maps a component to (port, how to choose another); raises ``PortTaken``
    naming every taken port."""
    taken = []
    for name, (port, how) in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers do: a port left in TIME_WAIT by an earlier run is free to them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                taken.append(f"port {port} ({name}) is already in use: choose another with {how}")
    if taken:
        raise PortTaken("\n".join(taken))


def free_port() -> int:
    """A port the kernel just handed out on loopback (closed again for a child to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port
