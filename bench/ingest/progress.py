"""Waiting for firebreak to finish what it acknowledged: its opened-incidents counter and
inbox backlog, scraped from ``/metrics``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.ingest.generators import Load
from bench.ingest.servers import Progress, Server, progress
from bot.progress import Progress as Bar

POLL_INTERVAL_S = 0.05
PROGRESS_EVERY_S = 15.0
# After catching up, the counter must hold still this long (and the inbox be empty) before
# the next scenario starts, so that one scenario's tail is not charged to the next.
SETTLE_QUIET_S = 0.5
SETTLE_TIMEOUT_S = 30.0


def poll(server: Server) -> Progress | None:
    """The server's progress, or ``None`` when one scrape fails (a busy loop may be slow)."""
    server.ensure_alive()
    try:
        return progress(server)
    except (OSError, TimeoutError):
        return None


def opened(state: Progress) -> int:
    return state.opened


def processed(state: Progress) -> int:
    return state.processed


def wait_for_count(
    server: Server,
    expected: int,
    timeout_s: float,
    count: Callable[[Progress], int] = opened,
) -> tuple[float, int]:
    """Poll until ``count`` (the opened counter unless told) reaches ``expected``; return when
    it did (or the deadline) and the last count seen.

    The time is taken after the answer that showed the count, so the catch-up is never
    dated earlier than it happened."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    # A long silent wait looks like a hang: a bar on a terminal, else a line now and then.
    with Bar(f"  {server.name}: processed", expected, every_s=PROGRESS_EVERY_S) as shown:
        while True:
            state = poll(server)
            now = time.monotonic()
            if state is not None:
                seen = count(state)
                shown.update(seen)
                if seen >= expected:
                    return now, seen
            if now >= deadline:
                return now, seen
            time.sleep(POLL_INTERVAL_S)


def settle(server: Server) -> int:
    """Wait until the inbox is empty and the counter holds still; return the count.

    Requests wrk abandoned at its deadline may still be stored and processed after the
    acknowledged ones are done."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        state = poll(server)
        if state is not None:
            if state.opened != last or state.pending:
                last, since = state.opened, time.monotonic()
            elif time.monotonic() - since >= SETTLE_QUIET_S:
                break
        time.sleep(POLL_INTERVAL_S)
    return last


@dataclass
class Ledger:
    """Deliveries one firebreak target has acknowledged, and how many more it may have got."""

    acked: int = 0
    unanswered: int = 0

    def processed_per_s(
        self, server: Server, load: Load, timeout_s: float, notes: list[str], label: str
    ) -> float:
        """Deliveries of ``load`` per second from its start until all acknowledged so far are
        processed (on a timeout: the progress made, with a note)."""
        before = self.acked
        self.acked += load.acked
        self.unanswered += load.unanswered
        reached, seen = wait_for_count(server, self.acked, timeout_s)
        elapsed = reached - load.started
        if seen < self.acked:
            notes.append(
                f"{label}: processing had not caught up after {timeout_s:g} s "
                f"({seen} of {self.acked} incidents opened)"
            )
            return max(0, seen - before) / elapsed
        final = settle(server)
        if final > self.acked + self.unanswered:
            limit = self.acked + self.unanswered
            notes.append(f"{label}: {final} incidents opened for at most {limit} deliveries")
        return load.acked / elapsed if elapsed > 0 else math.nan
