"""The launcher's command line: ports (flag, else environment, else the default) and the
work directory."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# component: (flag, environment variable, default port)
PORTS = {
    "bot": ("--bot-port", "FIREBREAK_RUN_BOT_PORT", 8080),
    "lnn": ("--lnn-port", "FIREBREAK_RUN_LNN_PORT", 8090),
    "prometheus": ("--prometheus-port", "FIREBREAK_RUN_PROMETHEUS_PORT", 9090),
    "alertmanager": ("--alertmanager-port", "FIREBREAK_RUN_ALERTMANAGER_PORT", 9093),
}


@dataclass(frozen=True)
class Options:
    """The launcher's command line, read by ``parse``."""

    work_dir: Path
    root: Path  # the checkout: where deploy/ is
    ports: Mapping[str, int]
    load: bool


def parse(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Options:
    """The launcher's options from ``argv`` (default: the command line); a port not given
    as a flag comes from its ``FIREBREAK_RUN_*`` variable in ``environ``, else its default."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m launcher",
        description="Run firebreak, the LNN service, Prometheus and Alertmanager on loopback, "
        "wired to each other, until Ctrl-C.",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".firebreak"),
        help="configs, data, logs and the generated env file (default: %(default)s)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the checkout holding deploy/ (default: this one)",
    )
    for name, (flag, variable, default) in PORTS.items():
        parser.add_argument(
            flag,
            type=int,
            default=int(environ.get(variable) or default),
            help=f"port of {name} on 127.0.0.1 (default: {default}, env {variable})",
        )
    parser.add_argument(
        "--no-load",
        action="store_true",
        help="no background traffic to the LNN service (its throughput alert will fire)",
    )
    args = parser.parse_args(argv)
    ports = {
        name: getattr(args, flag[2:].replace("-", "_")) for name, (flag, _, _) in PORTS.items()
    }
    return Options(args.work_dir.resolve(), args.root.resolve(), ports, not args.no_load)


def how_to_change(name: str) -> str:
    """The flag and the variable that choose the port of ``name``, for an error message."""
    flag, variable, _ = PORTS[name]
    return f"{flag} or {variable}"
