"""Durations are named ``..._SECONDS``; the old names still work, with a warning at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import RENAMED, Settings, deprecated_names, load_settings
from lnn_service.settings import RENAMED as LNN_RENAMED
from lnn_service.settings import Settings as LnnSettings

# Old name, new name, the setting's attribute, a value other than its default.
BOT_DURATIONS = [
    ("FIREBREAK_HEADER_TIMEOUT", "FIREBREAK_HEADER_TIMEOUT_SECONDS", "header_timeout", 2.5),
    ("FIREBREAK_BODY_GRACE", "FIREBREAK_BODY_GRACE_SECONDS", "body_grace", 1.5),
    ("FIREBREAK_APPROVAL_TTL", "FIREBREAK_APPROVAL_TTL_SECONDS", "approval_ttl", 30),
    ("FIREBREAK_ROLLOUT_DEADLINE", "FIREBREAK_ROLLOUT_DEADLINE_SECONDS", "rollout_deadline", 40),
    ("FIREBREAK_ROLLOUT_POLL", "FIREBREAK_ROLLOUT_POLL_SECONDS", "rollout_poll", 0.5),
    ("FIREBREAK_ACTION_LEASE", "FIREBREAK_ACTION_LEASE_SECONDS", "action_lease", 7),
    ("FIREBREAK_INBOX_RETRY_BASE", "FIREBREAK_INBOX_RETRY_BASE_SECONDS", "inbox_retry_base", 0.25),
    (
        "FIREBREAK_READY_MAX_INBOX_AGE",
        "FIREBREAK_READY_MAX_INBOX_AGE_SECONDS",
        "ready_max_inbox_age",
        45.0,
    ),
]
# Durations that were already named for their unit.
BOT_SECONDS = {
    "outbox_lease_seconds",
    "outbox_poll_seconds",
    "escalation_poll_seconds",
    "ui_session_seconds",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for old, new, _attr, _value in BOT_DURATIONS:
        monkeypatch.delenv(old, raising=False)
        monkeypatch.delenv(new, raising=False)


def _aliases(attr: str) -> list[str]:
    alias = Settings.model_fields[attr].validation_alias
    return [str(choice) for choice in getattr(alias, "choices", [])]


def test_the_table_lists_every_rename() -> None:
    assert {old: new for old, new, _a, _v in BOT_DURATIONS} == RENAMED


def test_every_duration_setting_is_named_for_its_unit() -> None:
    durations = {attr for _o, _n, attr, _v in BOT_DURATIONS} | BOT_SECONDS
    for attr in durations:
        assert _aliases(attr)[0].endswith("_SECONDS"), attr
    # Any other setting whose name says it is a duration would have to be in the table.
    words = {"timeout", "ttl", "deadline", "poll", "lease", "grace", "age", "seconds", "base"}
    named = {a for a in Settings.model_fields if words & set(a.split("_"))}
    assert named == durations


@pytest.mark.parametrize(("old", "new", "attr", "value"), BOT_DURATIONS)
def test_bot_old_and_new_names_both_work(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    old: str,
    new: str,
    attr: str,
    value: float,
) -> None:
    default = getattr(load_settings(), attr)
    assert default != value

    monkeypatch.setenv(new, str(value))
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        assert getattr(load_settings(), attr) == value
    assert not caplog.records

    monkeypatch.delenv(new)
    monkeypatch.setenv(old, str(value))
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        assert getattr(load_settings(), attr) == value
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.config"]
    assert messages == [f"setting {old} is deprecated: rename it to {new}"]

    # Both set: the new name wins.
    monkeypatch.setenv(new, str(default))
    assert getattr(load_settings(), attr) == default


def test_old_names_in_an_env_file_are_reported_too(tmp_path: Path) -> None:
    env_file = tmp_path / "firebreak.env"
    env_file.write_text("FIREBREAK_ACTION_LEASE=9\nFIREBREAK_ROLLOUT_POLL_SECONDS=1\n")
    assert load_settings(env_file).action_lease == 9
    assert deprecated_names(env_file) == ["FIREBREAK_ACTION_LEASE"]


@pytest.mark.parametrize(
    ("old", "new", "attr"),
    [
        ("LNN_HEADER_TIMEOUT", "LNN_HEADER_TIMEOUT_SECONDS", "header_timeout"),
        ("LNN_BODY_GRACE", "LNN_BODY_GRACE_SECONDS", "body_grace"),
    ],
)
def test_lnn_old_and_new_names_both_work(
    caplog: pytest.LogCaptureFixture, old: str, new: str, attr: str
) -> None:
    assert LNN_RENAMED[old] == new
    with caplog.at_level(logging.WARNING, logger="lnn_service.settings"):
        assert getattr(LnnSettings.from_env({new: "2.5"}), attr) == 2.5
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="lnn_service.settings"):
        assert getattr(LnnSettings.from_env({old: "2.5"}), attr) == 2.5
    assert [r.getMessage() for r in caplog.records] == [
        f"setting {old} is deprecated: rename it to {new}"
    ]
    assert getattr(LnnSettings.from_env({old: "2.5", new: "3"}), attr) == 3.0
