"""A local Prometheus: its configuration and command line.

It scrapes the LNN service as job ``lnn-service`` and the bot as job ``firebreak``, each with
the static ``namespace`` and ``deployment`` labels a Kubernetes ServiceMonitor would give
them, evaluates the (shortened) rules and sends alerts to the local Alertmanager.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from launcher.durations import render, seconds

NAMESPACE = "firebreak"
LNN_JOB = "lnn-service"
BOT_JOB = "firebreak"


@dataclass(frozen=True)
class Target:
    """A scrape job: one ``host:port`` with the labels a ServiceMonitor would give it."""

    job: str
    address: str
    deployment: str
    namespace: str = NAMESPACE


def lnn_target(address: str) -> Target:
    return Target(LNN_JOB, address, "lnn-service")


def bot_target(address: str) -> Target:
    return Target(BOT_JOB, address, "firebreak")


def render_config(
    *,
    targets: Sequence[Target],
    rule_files: Sequence[Path],
    alertmanager: str,
    interval: str = "5s",
) -> str:
    """prometheus.yml text (JSON, which is YAML) for ``targets``, alerting to the
    Alertmanager at ``alertmanager`` (``host:port``), evaluating every ``interval``."""
    # A scrape may not take longer than the interval between scrapes.
    timeout = render(seconds(interval) * 0.8)
    config = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": timeout,
            "evaluation_interval": interval,
        },
        "rule_files": [str(path) for path in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                "job_name": target.job,
                "static_configs": [
                    {
                        "targets": [target.address],
                        "labels": {
                            "namespace": target.namespace,
                            "deployment": target.deployment,
                        },
                    }
                ],
            }
            for target in targets
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def argv(binary: str, *, config: Path, data_dir: Path, listen: str) -> list[str]:
    """The command line of Prometheus on ``listen`` (``127.0.0.1:PORT``) with its TSDB in
    ``data_dir``; only warnings and errors are logged."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={listen}",
        f"--web.external-url=http://{listen}",
        "--log.level=warn",
    ]
