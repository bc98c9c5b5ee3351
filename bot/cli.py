"""The ``firebreak`` command line: serve the bot, migrate the database, check a policy, and
hand ``lnn ...`` to the model service."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.errors import ConfigError, PolicyError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebreak", description="ChatOps incident bot")
    parser.add_argument(
        "--env-file", help="read settings from this file as well as the environment"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bot's HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply database migrations")

    policy = sub.add_parser("policy", help="runbook policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("file")

    sub.add_parser("lnn", help="the LNN model service (firebreak lnn serve --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    # `lnn` owns its own arguments; hand them over untouched.
    if "lnn" in args_list[:3]:
        from lnn_service.cli import run

        return run(args_list[args_list.index("lnn") + 1 :])
    args = _parser().parse_args(args_list)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "policy":
            return _policy_check(args.file)
        from bot.config import load_settings

        settings = load_settings(args.env_file)
        if args.command == "db":
            from db.migrate import upgrade

            upgrade(settings.database_url)
            print("database is at the latest revision")
            return 0
        from bot.app import serve

        serve(settings, host=args.host, port=args.port)
        return 0
    except ConfigError as exc:
        print(f"firebreak: {exc}", file=sys.stderr)
        return 2


def _policy_check(path: str) -> int:
    from bot.policy.file import load_policy

    try:
        policy = load_policy(path)
    except PolicyError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"{exc.source}:{problem.removeprefix('line ')}", file=sys.stderr)
        return 1
    print(
        f"{path}: ok: {policy.name!r}, {len(policy.rules)} rules, {len(policy.scenarios)} scenarios"
    )
    return 0
