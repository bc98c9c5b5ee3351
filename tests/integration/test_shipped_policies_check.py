"""Every policy shipped in bot/policy/ passes ``firebreak policy check``, run as the console
script runs it (a fresh interpreter). Files are found by glob, as in
tests/unit/test_shipped_policies.py, so a new policy is checked without editing this test."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.policy
from tests.support.policy_cli import check

POLICY_DIR = Path(bot.policy.__file__).resolve().parent
SHIPPED = sorted(POLICY_DIR.rglob("*.yaml"))


def policy_id(path: Path) -> str:
    return path.relative_to(POLICY_DIR).as_posix()


@pytest.mark.parametrize("path", SHIPPED, ids=policy_id)
def test_policy_check_passes(path: Path) -> None:
    result = check(path)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok: ")
    # Every shipped policy has an on-call rotation and escalation levels (issue 16).
    assert " 0 on-call rotation members" not in result.stdout
    assert " 0 escalation levels" not in result.stdout
    assert result.stdout.rstrip().endswith(" escalation levels")
