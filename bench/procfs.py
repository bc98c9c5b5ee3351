"""What a server process and its children have used, read from ``/proc`` (Linux).

A server may run helpers (``firebreak serve`` on SQLite commits its inbox in a child process,
the LNN service may fork workers), so the figures cover the whole process tree: the server,
its live descendants, and the CPU of descendants that have already exited and been reaped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(process_tree(int(child)))
    return pids


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over ``pid`` and its live descendants, in MiB."""
    total_kb = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024 if total_kb else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU used so far by ``pid``'s tree (threads and reaped children too)."""
    total = 0
    found = False
    for p in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{p}/stat").read_text()
            # The command name may contain spaces; the fields after its closing ')' do not.
            fields = stat.rsplit(")", 1)[1].split()
            # utime, stime, and the cutime, cstime of waited-for children.
            total += sum(int(f) for f in fields[11:15])
            found = True
    return total / CLOCK_TICKS if found else float("nan")
