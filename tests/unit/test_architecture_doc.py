"""docs/architecture.md names files and folders; each must exist, so the walk stays true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

# A backticked token that looks like a path of this repository: a folder with a trailing
# slash, or a file with an extension. Paths outside the project (``../shared/...``) are
# the plan's, not the code's, and are left out.
_PATH = re.compile(r"`([A-Za-z_][\w./-]*(?:/|\.(?:py|yaml|md|toml)))`")


def named_paths(text: str) -> list[str]:
    return sorted({m for m in _PATH.findall(text) if not m.startswith("../")})


def test_the_pattern_finds_files_and_folders_only() -> None:
    text = "`bot/app.py`, `handlers/`, `make test`, `apply_alert_group`, `../shared/X.md`"
    assert named_paths(text) == ["bot/app.py", "handlers/"]


def test_every_path_the_architecture_doc_names_exists() -> None:
    paths = named_paths(DOC.read_text())
    # The walk of one alert alone names more than twenty files: a doc that lost them all
    # (or a pattern that stopped matching) must not pass as "nothing missing".
    assert len(paths) > 40, paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
