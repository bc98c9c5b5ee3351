"""``firebreak policy check FILE`` run as the console script runs it, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """What one ``policy check`` run printed and returned."""

    path: str
    code: int
    stdout: str
    stderr: list[str]


def check(path: Path) -> Result:
    """Run the installed CLI entry point in a fresh interpreter, as the console script does."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; raise SystemExit(main())",
            "policy",
            "check",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(str(path), proc.returncode, proc.stdout, proc.stderr.splitlines())
