"""The paging and email settings: named routing keys, the public URL, and how the app reads
which ways of telling people are configured."""

from __future__ import annotations

import pytest

from bot.adapters import reach_of
from bot.config import load_settings
from bot.errors import ConfigError

KEY_A = "A" * 32
KEY_B = "B" * 32


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PAGERDUTY_ROUTING_KEY",
        "PAGERDUTY_ROUTING_KEYS",
        "FIREBREAK_SMTP_URL",
        "FIREBREAK_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_nothing_set_means_neither_paging_nor_email(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.routing_keys() == {}
    reach = reach_of(settings)
    assert (reach.paging, reach.email) == (False, False)
    assert settings.public_url == "http://127.0.0.1:8080"


def test_named_routing_keys_are_read_and_count_as_paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS", f"lnn-service={KEY_A}, platform = {KEY_B}")
    monkeypatch.setenv("FIREBREAK_SMTP_URL", "smtp://127.0.0.1:25")
    settings = load_settings()
    assert settings.routing_keys() == {"lnn-service": KEY_A, "platform": KEY_B}
    reach = reach_of(settings)
    assert (reach.paging, reach.email) == (True, True)


@pytest.mark.parametrize("value", [KEY_A, f"={KEY_A}", "lnn-service=", f"a={KEY_A},{KEY_B}"])
def test_a_routing_key_without_its_name_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS", value)
    with pytest.raises(ConfigError, match="is not NAME=KEY") as info:
        load_settings()
    assert KEY_B not in str(info.value)
    assert KEY_A not in str(info.value)


def test_the_public_url_must_be_http_and_loses_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREBREAK_PUBLIC_URL", "https://firebreak.example/")
    assert load_settings().public_url == "https://firebreak.example"
    monkeypatch.setenv("FIREBREAK_PUBLIC_URL", "firebreak.example")
    with pytest.raises(ConfigError, match="http:// or https://"):
        load_settings()
