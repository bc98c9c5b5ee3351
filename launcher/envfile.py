"""The launcher's local env file (``.firebreak/env``): secrets generated on the first run and
kept for the next ones, plus where the last run listens (read by ``firebreak drill``).

Readable by the user only (0600), and never committed (the work dir is gitignored).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

# Generated when missing; a value set in the environment is used instead (see ``effective``).
SECRETS = ("FIREBREAK_ALERTMANAGER_TOKEN", "FIREBREAK_API_TOKEN", "LNN_ADMIN_TOKEN")
LNN_URL = "FIREBREAK_LNN_URL"
BOT_URL = "FIREBREAK_URL"
HEADER = (
    "# Written by the launcher (make run): secrets generated on the first run and reused,\n"
    "# and where the last run listens. Private to you (mode 0600); never commit it.\n"
)


def read(path: Path) -> dict[str, str]:
    """The file's values (empty when it does not exist)."""
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by the user only: created 0600, and made
    0600 if it was wider, before a byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def write(path: Path, values: Mapping[str, str]) -> None:
    """Replace the file with ``values`` (private, see ``write_private``)."""
    write_private(path, HEADER + "".join(f"{key}={value}\n" for key, value in values.items()))


def ensure_secrets(path: Path, urls: Mapping[str, str]) -> dict[str, str]:
    """The file's values with every missing secret generated and ``urls`` updated; written
    back. Existing secrets are kept, so tokens handed out earlier keep working."""
    values = read(path)
    for name in SECRETS:
        if not values.get(name):
            values[name] = secrets.token_urlsafe(32)
    values.update(urls)
    write(path, values)
    return values


def effective(file_values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """What the components get: the file's values, the environment winning where it sets
    one (so a team's real settings are used as they are)."""
    return {**file_values, **{k: v for k, v in environ.items() if v != ""}}
