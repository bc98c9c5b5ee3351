"""The bot's slow-client bounds come from the environment, with working defaults."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FIREBREAK_HEADER_TIMEOUT_SECONDS",
        "FIREBREAK_BODY_MIN_RATE",
        "FIREBREAK_BODY_GRACE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.header_timeout, settings.body_min_rate, settings.body_grace) == (
        5.0,
        1024.0,
        5.0,
    )


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBREAK_HEADER_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("FIREBREAK_BODY_MIN_RATE", "100")
    monkeypatch.setenv("FIREBREAK_BODY_GRACE_SECONDS", "0")
    settings = load_settings()
    assert (settings.header_timeout, settings.body_min_rate, settings.body_grace) == (
        2.5,
        100.0,
        0.0,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIREBREAK_HEADER_TIMEOUT_SECONDS", "0"),
        ("FIREBREAK_HEADER_TIMEOUT_SECONDS", "soon"),
        ("FIREBREAK_BODY_MIN_RATE", "-1"),
        ("FIREBREAK_BODY_GRACE_SECONDS", "-1"),
        ("FIREBREAK_BODY_GRACE_SECONDS", "inf"),
        ("FIREBREAK_BODY_MIN_RATE", "nan"),
    ],
)
def test_unusable_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
