"""The shipped policy as the tests that run on the real clock use it: without its maintenance
windows. The default policy holds the LNN service's alerts on Sundays 02:00-04:00 UTC (the
runbook's maintenance); a test that posts such an alert at that hour would see a P2 where it
expects a P1. Tests of the windows themselves load the shipped policy and move an injected
clock into them."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from functools import cache
from pathlib import Path

import yaml

from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.policy.model import Policy


def without_maintenance(policy: Policy) -> Policy:
    return dataclasses.replace(policy, maintenance=())


@cache
def default_policy_file(*, storms: bool = True) -> Path:
    """The shipped policy file without its ``maintenance`` section, written once per process
    (``FIREBREAK_POLICY`` for bots started by tests); without ``storms``, storm collapse is off
    too, for tests that count one incident per group of a hundred for one service."""
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["maintenance"] = []
    if not storms:
        data["noise"]["storm"] = {"threshold": 0}
    directory = Path(tempfile.mkdtemp(prefix=f"firebreak-policy-{os.getpid()}-"))
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_policy(path)  # it must still be a valid policy
    return path
