"""Every policy shipped in bot/policy/ passes ``firebreak policy check``, run as the console
script runs it (a fresh interpreter). Files are found by glob, as in
tests/unit/test_shipped_policies.py, so a new policy is checked without editing this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bot.policy

POLICY_DIR = Path(bot.policy.__file__).resolve().parent
SHIPPED = sorted(POLICY_DIR.rglob("*.yaml"))


def policy_id(path: Path) -> str:
    return path.relative_to(POLICY_DIR).as_posix()


@pytest.mark.parametrize("path", SHIPPED, ids=policy_id)
def test_policy_check_passes(path: Path) -> None:
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
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{path}: ok: ")
