"""A local Alertmanager: the shipped example configuration, pointed at the local bot.

The config is the one operators start from (``deploy/alertmanager/alertmanager.yml``); only
what a local run must differ in is rewritten: the webhook URL, the token file and the
grouping timers (capped, so a drill notifies within seconds rather than minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from launcher.durations import render, seconds

SHIPPED = "deploy/alertmanager/alertmanager.yml"
WEBHOOK_PATH = "/webhooks/alertmanager"
RECEIVER = "firebreak"


def shipped_config(root: Path) -> Path:
    """The example config in checkout ``root``."""
    path = root / SHIPPED
    if not path.exists():
        raise FileNotFoundError(f"no Alertmanager example config in {root}: looked for {SHIPPED}")
    return path


# Alertmanager's own defaults, for a top-level route that leaves a timer out.
DEFAULTS = {"group_wait": 30.0, "group_interval": 300.0}


def _cap(route: dict[str, Any], caps: Mapping[str, float], *, top: bool) -> dict[str, Any]:
    """``route`` with its timers capped; child routes inherit, so only theirs that are set."""
    route = dict(route)
    for key, cap in caps.items():
        if key in route or top:
            current = seconds(str(route[key])) if key in route else DEFAULTS[key]
            route[key] = render(min(current, cap))
    if "routes" in route:
        route["routes"] = [_cap(child, caps, top=False) for child in route["routes"]]
    return route


def rewrite(
    text: str,
    *,
    bot_url: str,
    token_file: Path,
    group_wait: str = "5s",
    group_interval: str = "10s",
) -> str:
    """The config ``text`` with the ``firebreak`` receiver's webhooks sent to ``bot_url``
    (the bot's base URL) with the bearer token read from ``token_file``, and the routes'
    ``group_wait``/``group_interval`` capped. Raises ``ValueError`` without that receiver."""
    doc = yaml.safe_load(text)
    receivers = doc.get("receivers") or []
    found = False
    for receiver in receivers:
        if receiver.get("name") != RECEIVER:
            continue
        for hook in receiver.get("webhook_configs") or []:
            found = True
            hook["url"] = bot_url.rstrip("/") + WEBHOOK_PATH
            http = hook.setdefault("http_config", {})
            http.pop("bearer_token", None)
            http.pop("bearer_token_file", None)
            http["authorization"] = {"type": "Bearer", "credentials_file": str(token_file)}
    if not found:
        raise ValueError(f"the Alertmanager config has no webhook receiver {RECEIVER!r}")
    caps = {"group_wait": seconds(group_wait), "group_interval": seconds(group_interval)}
    doc["route"] = _cap(doc.get("route") or {}, caps, top=True)
    return yaml.safe_dump(doc, sort_keys=False)


def write(
    home: Path,
    *,
    root: Path,
    bot_url: str,
    token_file: Path,
    group_wait: str = "5s",
    group_interval: str = "10s",
) -> Path:
    """Into directory ``home``: the shipped example config of checkout ``root`` rewritten by
    ``rewrite`` as ``alertmanager.yml``; its path, for ``argv``."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "alertmanager.yml"
    config.write_text(
        rewrite(
            shipped_config(root).read_text(),
            bot_url=bot_url,
            token_file=token_file,
            group_wait=group_wait,
            group_interval=group_interval,
        )
    )
    return config


def argv(binary: str, *, config: Path, data_dir: Path, listen: str) -> list[str]:
    """The command line of a single Alertmanager on ``listen`` (no cluster: its gossip port
    would otherwise bind every interface)."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.path={data_dir}",
        f"--web.listen-address={listen}",
        f"--web.external-url=http://{listen}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
