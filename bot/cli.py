"""The ``firebreak`` command line: one argparse tree for serving the bot, migrating the
database, checking a policy, running the LNN model service (``firebreak lnn ...``) and
drilling it (``firebreak drill ...``)."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path

from bot.errors import ConfigError, DrillFailed, PolicyError
from bot.logs import LEVELS, configure_logging


def _version() -> str:
    try:
        return metadata.version("firebreak")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; ``lnn`` takes its subcommands from the LNN service's CLI."""
    from lnn_service.cli import add_commands as add_lnn_commands

    parser = argparse.ArgumentParser(prog="firebreak", description="ChatOps incident bot")
    parser.add_argument("--version", action="version", version=f"firebreak {_version()}")
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="read settings from this file as well as the environment, which wins where both "
        "set one (for every command, lnn included)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default="INFO",
        help="the least severe level logged (default: %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or one JSON object per record with time, level, logger and message "
        "(default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the bot's HTTP server",
        description="Run the bot's HTTP server (webhooks, Slack, API, health) until SIGINT or "
        "SIGTERM. Everything else is read from the settings (see the README).",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="TCP port to listen on (default: %(default)s)"
    )

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_sub.add_parser("upgrade", help="apply database migrations (FIREBREAK_DATABASE_URL)")

    policy = sub.add_parser("policy", help="runbook policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument(
        "file", nargs="?", help="the policy file (default: the policy shipped with firebreak)"
    )

    lnn = sub.add_parser("lnn", help="the LNN model service", description="The LNN model service")
    add_lnn_commands(lnn)

    drill = sub.add_parser(
        "drill",
        help="turn an LNN service fault on or off",
        description="Flip the LNN service's drill switch (POST /admin/faults) so an alert "
        "fires and firebreak opens an incident; --off lifts every drill and the incident "
        "resolves. The URL and admin token (LNN_ADMIN_TOKEN) come from the environment, "
        "else --env-file, else .firebreak/env (written by make run).",
    )
    drill.add_argument(
        "kind", nargs="?", choices=("latency", "errors", "down"), help="the fault to turn on"
    )
    drill.add_argument("--off", action="store_true", help="lift every drill")
    drill.add_argument(
        "--lnn-url",
        help="the LNN service's base URL (default: FIREBREAK_LNN_URL from the environment or "
        "the env file, else http://127.0.0.1:8090)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console script; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level, args.log_format)
    try:
        if args.command == "policy":
            return _policy_check(args.file)
        if args.command == "lnn":
            return _lnn(args)
        if args.command == "drill":
            return _drill(args)
        from bot.config import load_settings

        settings = load_settings(args.env_file)
        if args.command == "db":
            from db.migrate import upgrade

            # One line per revision as it is applied: a long one (an index on a large
            # table) shows where it is rather than a silent wait.
            upgrade(
                settings.database_url,
                on_applied=lambda revision, doc: print(f"applied {revision}: {doc}", flush=True),
            )
            print("database is at the latest revision")
            return 0
        from bot.serving import serve

        serve(settings, host=args.host, port=args.port)
        return 0
    except ConfigError as exc:
        print(f"firebreak: {exc}", file=sys.stderr)
        return 2
    except DrillFailed as exc:
        print(f"firebreak drill: {exc}", file=sys.stderr)
        return 1


def _lnn(args: argparse.Namespace) -> int:
    import os

    from dotenv import dotenv_values

    from lnn_service.cli import execute

    env = dict(os.environ)
    if args.env_file is not None:
        # As for the bot's settings: the environment wins over the file.
        from_file = dotenv_values(args.env_file)
        env = {k: v for k, v in from_file.items() if v is not None} | env
    return execute(args, env)


def _drill(args: argparse.Namespace) -> int:
    import os

    from dotenv import dotenv_values

    from bot.drill import DRILLS, LAUNCHER_ENV_FILE, lnn_endpoint, report, set_faults

    if args.kind is None and not args.off:
        print(
            "firebreak drill: name a drill (latency, errors, down) or give --off", file=sys.stderr
        )
        return 2
    env_path = Path(args.env_file) if args.env_file is not None else LAUNCHER_ENV_FILE
    from_file = dotenv_values(env_path) if env_path.exists() else {}
    url, token = lnn_endpoint(
        args.lnn_url, os.environ, {k: v for k, v in from_file.items() if v is not None}
    )
    set_faults(url, token, {} if args.off else DRILLS[args.kind].body)
    print(report(args.kind, url, args.off))
    return 0


def _policy_check(path: str | None) -> int:
    from bot.policy.file import DEFAULT_POLICY, load_policy

    source: Path | Traversable = DEFAULT_POLICY if path is None else Path(path)
    try:
        policy = load_policy(source)
    except PolicyError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"{exc.source}:{problem.removeprefix('line ')}", file=sys.stderr)
        return 1
    levels = sum(len(level.path) for level in policy.levels.values())
    print(
        f"{source}: ok: {policy.name!r}, {len(policy.rules)} rules, {len(policy.scenarios)} scenarios,"
        f" {len(policy.rotation)} on-call rotation members, {levels} escalation levels"
    )
    return 0
