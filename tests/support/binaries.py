"""Tests that drive a Debian binary fail in CI when it is missing and skip only on a
developer's machine (``make test`` installs them)."""

from __future__ import annotations

import os
import shutil

import pytest


def need(binary: str) -> str:
    """The binary's path; ``pytest.fail`` under CI=true when missing, else ``pytest.skip``."""
    path = shutil.which(binary)
    if path:
        return path
    message = f"{binary} is not installed (make test installs it with apt)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
