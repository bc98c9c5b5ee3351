"""Where the launcher keeps things in its work directory, and the binaries it runs."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


class MissingBinary(Exception):
    """A program the launcher needs is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Layout:
    """Where the launcher keeps each of its files under ``work_dir``."""

    work_dir: Path

    @property
    def env_file(self) -> Path:
        """The generated secrets and the last run's URLs (``launcher.envfile``)."""
        return self.work_dir / "env"

    @property
    def token_file(self) -> Path:
        """The Alertmanager webhook's bearer token, for its ``credentials_file``."""
        return self.work_dir / "alertmanager-token"

    @property
    def database(self) -> Path:
        """The bot's SQLite database, unless ``FIREBREAK_DATABASE_URL`` names another."""
        return self.work_dir / "firebreak.db"

    @property
    def logs(self) -> Path:
        """The directory of the components' logs."""
        return self.work_dir / "logs"

    def home(self, component: str) -> Path:
        """A component's own directory: its config and its data."""
        return self.work_dir / component

    def log(self, component: str) -> Path:
        """The log file of one component (of the migration too)."""
        return self.logs / f"{component}.log"


def find_binary(*names: str, package: str) -> str:
    """The first of ``names`` on PATH or in /usr/bin; ``MissingBinary`` naming the package."""
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    raise MissingBinary(
        f"{names[0]} is not installed: run `make run` (it installs the Debian packages), "
        f"or `sudo apt-get install {package}`"
    )


def firebreak_executable() -> str:
    """The ``firebreak`` console script of this virtualenv, else the one on PATH."""
    local = Path(sys.executable).parent / "firebreak"
    if local.exists():
        return str(local)
    found = shutil.which("firebreak")
    if found is None:
        raise MissingBinary("the firebreak command is not installed: run `make venv`")
    return found
