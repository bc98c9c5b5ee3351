"""``firebreak``: one argparse tree (``lnn`` included), ``--version``, ``--env-file`` for
every command, ``--log-level`` and ``--log-format``."""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.logs import JsonFormatter

MAIN = "from bot.cli import main; raise SystemExit(main())"


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """``main`` sets up logging on the root logger, with a handler on the ``sys.stderr`` of
    the moment: pytest's capture of this test, closed when it ends. Left in place, every later
    test's log line would fail with "I/O operation on closed file"."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def firebreak(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script's entry point in a fresh interpreter (logging set up from scratch)."""
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("firebreak ")


def test_a_policy_file_named_lnn_is_checked_as_a_policy_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It used to be handed to the LNN CLI, which failed with its own usage error.
    monkeypatch.chdir(tmp_path)
    assert main(["policy", "check", "lnn"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lnn: 1 problem(s)")
    assert "cannot read" in err
    assert "firebreak lnn" not in err


def test_an_env_file_named_lnn_does_not_start_the_model_service() -> None:
    args = build_parser().parse_args(["--env-file", "lnn", "serve"])
    assert (args.command, args.env_file) == ("serve", "lnn")


def test_policy_check_without_a_file_checks_the_shipped_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "check"]) == 0
    out = capsys.readouterr().out
    assert out.split(": ok: ")[0].endswith("default.yaml")
    assert "rules" in out


def test_lnn_is_a_subcommand_of_the_same_tree(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["lnn", "serve", "--port", "9000", "--no-fast-path"])
    assert (args.command, args.lnn_command, args.port, args.no_fast_path) == (
        "lnn",
        "serve",
        9000,
        True,
    )
    with pytest.raises(SystemExit) as exit_:
        main(["lnn", "fly"])
    assert exit_.value.code == 2
    assert "usage: firebreak lnn" in capsys.readouterr().err


def test_lnn_versions(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LNN_MODEL_DIR", raising=False)
    assert main(["lnn", "versions"]) == 0
    assert capsys.readouterr().out.split() == ["cartpole-v1", "cartpole-v2"]


def test_env_file_is_read_for_lnn_and_the_environment_wins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LNN_MODEL_DIR", raising=False)
    monkeypatch.delenv("LNN_MAX_BATCH", raising=False)
    env_file = tmp_path / "firebreak.env"
    env_file.write_text("LNN_MAX_BATCH=lots\n")
    assert main(["--env-file", str(env_file), "lnn", "versions"]) == 2
    assert "LNN_MAX_BATCH must be an integer" in capsys.readouterr().err
    monkeypatch.setenv("LNN_MAX_BATCH", "5")
    assert main(["--env-file", str(env_file), "lnn", "versions"]) == 0


def test_serve_help_says_what_each_option_does_and_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--host HOST address to listen on (default: 127.0.0.1)" in help_text
    assert "--port PORT TCP port to listen on (default: 8080)" in help_text


def test_log_options_are_refused_when_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--log-format", "xml"], ["--log-level", "loud"]):
        with pytest.raises(SystemExit):
            main([*bad, "policy", "check"])
        assert "invalid choice" in capsys.readouterr().err


def test_json_formatter_writes_one_object_per_record() -> None:
    record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    line = json.loads(JsonFormatter().format(record))
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "bot.x", "a b")
    assert line["time"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_log_format_json_and_log_level_apply_to_start_up_logs(tmp_path: Path) -> None:
    # An old setting name makes start-up log a warning: the record to look at.
    env = {
        "FIREBREAK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fb.db'}",
        "FIREBREAK_APPROVAL_TTL": "60",
    }
    proc = firebreak("--log-format", "json", "db", "upgrade", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    warnings = [line for line in lines if line["logger"] == "bot.config"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert "FIREBREAK_APPROVAL_TTL_SECONDS" in warnings[0]["message"]

    text = firebreak("--log-format", "text", "db", "upgrade", env=env)
    assert " WARNING bot.config setting FIREBREAK_APPROVAL_TTL is deprecated" in text.stderr

    quiet = firebreak("--log-level", "error", "db", "upgrade", env=env)
    assert quiet.returncode == 0
    assert "deprecated" not in quiet.stderr


def test_db_upgrade_names_each_revision_as_it_is_applied(tmp_path: Path) -> None:
    env = {"FIREBREAK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fb.db'}"}
    first = firebreak("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    applied = [line for line in first.stdout.splitlines() if line.startswith("applied ")]
    shipped = sorted(p.name[:4] for p in Path("db/migrations/versions").glob("0*.py"))
    assert [line.split()[1].rstrip(":") for line in applied] == shipped
    # Each line says what the revision does: the first line of its docstring.
    newest = next(Path("db/migrations/versions").glob(f"{shipped[-1]}_*.py"))
    summary = ast.get_docstring(ast.parse(newest.read_text())) or ""
    assert applied[-1] == f"applied {shipped[-1]}: {summary.splitlines()[0]}"
    assert first.stdout.splitlines()[-1] == "database is at the latest revision"

    again = firebreak("db", "upgrade", env=env)
    assert again.stdout.splitlines() == ["database is at the latest revision"]
