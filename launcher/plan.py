"""Everything the launcher writes before it starts a process: the env file and token file,
the shortened rules, prometheus.yml and alertmanager.yml, and each component's command
line and environment. Pure file work, so it is tested without starting anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher import alertmanager, envfile, prometheus
from launcher.layout import Layout
from launcher.ports import LOOPBACK


@dataclass(frozen=True)
class Component:
    """One process to start: its command line and the URL path that answers 200 when ready."""

    name: str
    argv: list[str]
    url: str
    ready_path: str


@dataclass(frozen=True)
class Plan:
    """The prepared run: the components' environment, each component, and the migration."""

    env: Mapping[str, str]  # every component's environment
    bot: Component
    lnn: Component
    alertmanager: Component
    prometheus: Component
    migrate: list[str]  # ``firebreak db upgrade``

    @property
    def components(self) -> list[Component]:
        """In start order: the stop order is the reverse."""
        return [self.lnn, self.bot, self.alertmanager, self.prometheus]

    @property
    def api_token(self) -> str:
        """The token the bot's API takes: the environment's, else the generated one."""
        return self.env.get("FIREBREAK_API_TOKEN", "")

    @property
    def public_url(self) -> str:
        """Where a browser reaches the bot (the environment's, else the bot's own URL)."""
        return self.env.get("FIREBREAK_PUBLIC_URL", self.bot.url)


def _address(port: int) -> str:
    return f"{LOOPBACK}:{port}"


def prepare(
    *,
    root: Path,
    layout: Layout,
    ports: Mapping[str, int],
    environ: Mapping[str, str],
    firebreak: str,
    prometheus_binary: str,
    alertmanager_binary: str,
) -> Plan:
    """Write the work directory's files for a run on ``ports``; the commands to run."""
    bot_url = f"http://{_address(ports['bot'])}"
    lnn_url = f"http://{_address(ports['lnn'])}"
    values = envfile.ensure_secrets(
        layout.env_file, {envfile.BOT_URL: bot_url, envfile.LNN_URL: lnn_url}
    )
    env = envfile.effective(values, environ)
    env.setdefault("FIREBREAK_DATABASE_URL", f"sqlite+aiosqlite:///{layout.database}")
    # /incident silence goes to the Alertmanager this run starts (issue 17).
    env.setdefault("ALERTMANAGER_URL", f"http://{_address(ports['alertmanager'])}")
    # Metric graphs of firing alerts come from the Prometheus this run starts (issue 18).
    env.setdefault("FIREBREAK_PROMETHEUS_URL", f"http://{_address(ports['prometheus'])}")
    # Links in the card, pages and emails, and the web page's sign-in link, point at this
    # run's bot (on loopback http its cookies need not be Secure).
    env.setdefault("FIREBREAK_PUBLIC_URL", bot_url)
    env["PYTHONUNBUFFERED"] = "1"
    envfile.write_private(layout.token_file, env["FIREBREAK_ALERTMANAGER_TOKEN"])

    prom_home = layout.home("prometheus")
    prom_config = prometheus.write(
        prom_home,
        root=root,
        targets=[
            prometheus.lnn_target(_address(ports["lnn"])),
            prometheus.bot_target(_address(ports["bot"])),
        ],
        alertmanager=_address(ports["alertmanager"]),
    )
    am_home = layout.home("alertmanager")
    am_config = alertmanager.write(
        am_home, root=root, bot_url=bot_url, token_file=layout.token_file
    )
    host = ["--host", LOOPBACK]
    return Plan(
        env=env,
        bot=Component(
            "bot", [firebreak, "serve", *host, "--port", str(ports["bot"])], bot_url, "/readyz"
        ),
        lnn=Component(
            "lnn-service",
            [firebreak, "lnn", "serve", *host, "--port", str(ports["lnn"])],
            lnn_url,
            "/ready",
        ),
        alertmanager=Component(
            "alertmanager",
            alertmanager.argv(
                alertmanager_binary,
                config=am_config,
                data_dir=am_home / "data",
                listen=_address(ports["alertmanager"]),
            ),
            f"http://{_address(ports['alertmanager'])}",
            "/-/ready",
        ),
        prometheus=Component(
            "prometheus",
            prometheus.argv(
                prometheus_binary,
                config=prom_config,
                data_dir=prom_home / "data",
                listen=_address(ports["prometheus"]),
            ),
            f"http://{_address(ports['prometheus'])}",
            "/-/ready",
        ),
        migrate=[firebreak, "db", "upgrade"],
    )
