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

from launcher import rules
from launcher.durations import render, seconds

RULES_GLOB = "deploy/prometheus/*-rules.yaml"
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
    """The LNN service at ``address``: job ``lnn-service``, deployment ``lnn-service``."""
    return Target(LNN_JOB, address, "lnn-service")


def bot_target(address: str) -> Target:
    """The bot at ``address``: job ``firebreak``, deployment ``firebreak``."""
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


def write(
    home: Path,
    *,
    root: Path,
    targets: Sequence[Target],
    alertmanager: str,
    window: str = rules.DEFAULT_WINDOW,
    for_: str = rules.DEFAULT_FOR,
    interval: str = "5s",
) -> Path:
    """Into directory ``home``: the shipped rules of checkout ``root``, shortened (``rules/``),
    and a ``prometheus.yml`` evaluating them; the config's path, for ``argv``."""
    shipped = sorted(root.glob(RULES_GLOB))
    if not shipped:
        raise FileNotFoundError(f"no rules files in {root}: looked for {RULES_GLOB}")
    rule_files = rules.write_shortened(shipped, home / "rules", window=window, for_=for_)
    config = home / "prometheus.yml"
    config.write_text(
        render_config(
            targets=targets, rule_files=rule_files, alertmanager=alertmanager, interval=interval
        )
    )
    return config


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
