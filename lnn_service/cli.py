"""``firebreak lnn ...``: the model service's command line.

The bot's CLI grafts these subcommands under its own ``lnn`` command (``add_commands``) and
hands the parsed arguments to ``execute``; ``python -m lnn_service`` parses them alone
(``run``). This module imports nothing of the bot.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from lnn_service.errors import LnnError
from lnn_service.settings import Settings


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add the service's subcommands (``serve``, ``versions``) to ``parser``."""
    sub = parser.add_subparsers(dest="lnn_command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve the model over HTTP",
        description="Serve the model over HTTP until SIGINT or SIGTERM. Each option overrides "
        "its environment variable.",
    )
    serve.add_argument("--host", help="listen address (default 127.0.0.1, env LNN_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 8090, env LNN_PORT)")
    serve.add_argument(
        "--model-dir", help="registry directory (default: the shipped models, env LNN_MODEL_DIR)"
    )
    serve.add_argument(
        "--model-version",
        help="version to serve (default: the newest in the registry, env LNN_MODEL_VERSION)",
    )
    serve.add_argument(
        "--workers", type=int, help="processes sharing the port (default 1, env LNN_WORKERS)"
    )
    serve.add_argument(
        "--no-fast-path",
        action="store_true",
        help="serve /inference through aiohttp only (default: the fast path, env LNN_FAST_PATH)",
    )
    sub.add_parser("versions", help="list the model versions in the registry")


def build_parser(prog: str = "firebreak lnn") -> argparse.ArgumentParser:
    """The service's own parser, for ``python -m lnn_service``."""
    parser = argparse.ArgumentParser(prog=prog, description="The LNN model service")
    add_commands(parser)
    return parser


def run(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    """Entry point for the arguments after ``firebreak lnn``; returns the exit status."""
    return execute(build_parser().parse_args(argv), env)


def execute(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Run parsed ``lnn`` arguments with settings from ``env`` (default: the environment)."""
    try:
        settings = Settings.from_env(env)
        if args.lnn_command == "versions":
            from lnn_service.registry import Registry

            for version in Registry(settings.model_dir).versions():
                print(version)
            return 0
        from pathlib import Path

        from lnn_service.server import serve

        settings = settings.with_overrides(
            host=args.host,
            port=args.port,
            model_dir=Path(args.model_dir) if args.model_dir else None,
            model_version=args.model_version,
            workers=args.workers,
            fast_path=False if args.no_fast_path else None,
        )
        serve(settings)
    except LnnError as exc:
        print(f"firebreak lnn: {exc}", file=sys.stderr)
        return 2
    return 0
