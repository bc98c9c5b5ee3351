"""The database URL ``firebreak serve`` logs at start-up never shows the password."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.serving import redacted_database_url


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            "postgresql+asyncpg://firebreak:hunter2@db.example:5432/incidents",
            "postgresql+asyncpg://firebreak:***@db.example:5432/incidents",
        ),
        (
            "postgresql+asyncpg://firebreak:p%40ss%3Aword@db/incidents",
            "postgresql+asyncpg://firebreak:***@db/incidents",
        ),
        (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        ),
        ("sqlite+aiosqlite:///./firebreak.db", "sqlite+aiosqlite:///./firebreak.db"),
    ],
)
def test_the_password_is_masked(url: str, logged: str) -> None:
    assert redacted_database_url(Settings(database_url=url)) == logged
