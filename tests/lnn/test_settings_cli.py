"""Settings come from the environment once; the CLI parses ``firebreak lnn`` arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from httpguard.clock import Limits
from lnn_service import cli
from lnn_service.settings import DEFAULT_MODEL_DIR, Settings, SettingsError


def test_defaults_and_environment() -> None:
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env(
        {
            "LNN_ADMIN_TOKEN": "t",
            "LNN_MODEL_DIR": "/srv/models",
            "LNN_MAX_BATCH": "10",
            "LNN_MODEL_VERSION": "cartpole-v2",
            "LNN_FAST_PATH": "off",
            "LNN_WORKERS": "2",
            "LNN_HEADER_TIMEOUT_SECONDS": "2.5",
            "LNN_BODY_MIN_RATE": "100",
            "LNN_BODY_GRACE_SECONDS": "0",
        }
    )
    assert s.admin_token == "t"
    assert s.model_dir == Path("/srv/models")
    assert s.max_batch == 10
    assert s.model_version == "cartpole-v2"
    assert s.fast_path is False
    assert s.workers == 2
    assert s.limits == Limits(head_timeout=2.5, body_min_rate=100.0, body_grace=0.0)
    assert Settings().limits == Limits(head_timeout=5.0, body_min_rate=1024.0, body_grace=5.0)
    assert Settings().model_dir == DEFAULT_MODEL_DIR
    assert Settings().admin_token is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LNN_MAX_BATCH": "many"}, "LNN_MAX_BATCH must be an integer"),
        ({"LNN_MAX_BATCH": "0"}, "at least 1"),
        ({"LNN_FAST_PATH": "maybe"}, "LNN_FAST_PATH must be a boolean"),
        ({"LNN_HEADER_TIMEOUT_SECONDS": "soon"}, "LNN_HEADER_TIMEOUT_SECONDS must be a number"),
        ({"LNN_HEADER_TIMEOUT_SECONDS": "0"}, "LNN_HEADER_TIMEOUT_SECONDS must be a finite number"),
        ({"LNN_BODY_MIN_RATE": "nan"}, "LNN_BODY_MIN_RATE must be a finite number"),
        ({"LNN_BODY_GRACE_SECONDS": "inf"}, "LNN_BODY_GRACE_SECONDS must be a finite number"),
        ({"LNN_BODY_GRACE_SECONDS": "-1"}, "LNN_BODY_GRACE_SECONDS must be a finite number"),
    ],
)
def test_bad_environment_is_reported(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_overrides_ignore_none() -> None:
    s = Settings().with_overrides(port=9000, host=None)
    assert s.port == 9000
    assert s.host == "127.0.0.1"


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_cli_lists_versions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LNN_MODEL_DIR", raising=False)
    assert cli.run(["versions"]) == 0
    assert capsys.readouterr().out.split() == ["cartpole-v1", "cartpole-v2"]


def test_cli_rejects_unknown_commands_and_bad_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.run(["fly"])
    monkeypatch.setenv("LNN_MAX_BATCH", "lots")
    assert cli.run(["versions"]) == 2
    assert "LNN_MAX_BATCH" in capsys.readouterr().err
