"""The image's build context leaves local state out: the launcher's work dir (generated
secrets, the SQLite database, Prometheus data), the virtualenv and the git history."""

from __future__ import annotations

from pathlib import Path

import pytest

DOCKERIGNORE = Path(__file__).resolve().parents[2] / ".dockerignore"


def excluded() -> set[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return {line.rstrip("/") for line in lines if line and not line.startswith("#")}


@pytest.mark.parametrize("path", [".firebreak", ".venv", ".git", "*.env", ".env*"])
def test_local_state_is_not_sent_to_the_image_build(path: str) -> None:
    assert path in excluded()


def test_nothing_is_put_back_by_a_negation() -> None:
    assert not [line for line in excluded() if line.startswith("!")]
