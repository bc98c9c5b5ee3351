"""The inbox's settings: read from the environment, bounded, and handed to the processor."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.services.incidents.inbox import ProcessorTimings

NAMES = (
    "FIREBREAK_INBOX_RETRY_BASE_SECONDS",
    "FIREBREAK_INBOX_MAX_ATTEMPTS",
    "FIREBREAK_READY_MAX_INBOX_AGE_SECONDS",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_processor_and_give_up_within_the_readiness_bound() -> None:
    settings = load_settings()
    timings = ProcessorTimings()
    assert (settings.inbox_retry_base, settings.inbox_max_attempts) == (
        timings.retry_base,
        timings.max_attempts,
    )
    assert settings.ready_max_inbox_age == 300.0
    # A delivery that keeps failing is settled before it alone can make /readyz degraded.
    waited = sum(
        min(timings.retry_cap, settings.inbox_retry_base * 2 ** (n - 1))
        for n in range(1, settings.inbox_max_attempts)
    )
    assert waited < settings.ready_max_inbox_age


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBREAK_INBOX_RETRY_BASE_SECONDS", "0.25")
    monkeypatch.setenv("FIREBREAK_INBOX_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("FIREBREAK_READY_MAX_INBOX_AGE_SECONDS", "45")
    settings = load_settings()
    assert (settings.inbox_retry_base, settings.inbox_max_attempts) == (0.25, 3)
    assert settings.ready_max_inbox_age == 45.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIREBREAK_INBOX_RETRY_BASE_SECONDS", "0"),
        ("FIREBREAK_INBOX_MAX_ATTEMPTS", "0"),
        ("FIREBREAK_READY_MAX_INBOX_AGE_SECONDS", "-1"),
    ],
)
def test_nonsense_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
