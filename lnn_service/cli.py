"""``firebreak lnn ...``: the model service's command line."""

from __future__ import annotations

import argparse
import sys

from lnn_service.errors import LnnError
from lnn_service.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebreak lnn", description="The LNN model service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the model over HTTP")
    serve.add_argument("--host", help="listen address (default 127.0.0.1, env LNN_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 8090, env LNN_PORT)")
    serve.add_argument("--model-dir", help="registry directory (env LNN_MODEL_DIR)")
    serve.add_argument("--model-version", help="version to serve (env LNN_MODEL_VERSION)")
    serve.add_argument("--workers", type=int, help="processes sharing the port (env LNN_WORKERS)")
    serve.add_argument(
        "--no-fast-path", action="store_true", help="serve /inference through aiohttp only"
    )
    sub.add_parser("versions", help="list the model versions in the registry")
    return parser


def run(argv: list[str]) -> int:
    """Entry point for the arguments after ``firebreak lnn``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "versions":
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
