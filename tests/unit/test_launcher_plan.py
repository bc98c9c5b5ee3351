"""What the launcher writes before it starts anything: the env file (secrets generated once,
private, the environment winning), prometheus.yml, the rewritten Alertmanager config, the
components' command lines."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from launcher import alertmanager, envfile
from launcher.layout import Layout
from launcher.plan import Plan, prepare

ROOT = Path(__file__).resolve().parents[2]
PORTS = {"bot": 18080, "lnn": 18090, "prometheus": 19090, "alertmanager": 19093}


def plan_in(work: Path, environ: dict[str, str] | None = None) -> Plan:
    return prepare(
        root=ROOT,
        layout=Layout(work),
        ports=PORTS,
        environ=environ or {},
        firebreak="/venv/bin/firebreak",
        prometheus_binary="/usr/bin/prometheus",
        alertmanager_binary="/usr/bin/prometheus-alertmanager",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = plan_in(tmp_path)
    env_file = tmp_path / "env"
    assert mode(env_file) == 0o600
    assert mode(tmp_path / "alertmanager-token") == 0o600
    stored = envfile.read(env_file)
    for name in envfile.SECRETS:
        assert len(stored[name]) >= 40, name
        assert first.env[name] == stored[name]
    assert len({stored[name] for name in envfile.SECRETS}) == len(envfile.SECRETS)
    assert stored[envfile.LNN_URL] == "http://127.0.0.1:18090"
    env_file.chmod(0o644)
    (tmp_path / "alertmanager-token").chmod(0o644)
    second = plan_in(tmp_path)
    assert [second.env[n] for n in envfile.SECRETS] == [first.env[n] for n in envfile.SECRETS]
    assert mode(env_file) == 0o600, "a file made readable by others is made private again"
    assert mode(tmp_path / "alertmanager-token") == 0o600
    token = (tmp_path / "alertmanager-token").read_text()
    assert token == first.env["FIREBREAK_ALERTMANAGER_TOKEN"]


def test_settings_in_the_environment_win(tmp_path: Path) -> None:
    environ = {
        "FIREBREAK_API_TOKEN": "team-token",
        "FIREBREAK_DATABASE_URL": "postgresql+asyncpg://db/firebreak",
        "SLACK_BOT_TOKEN": "xoxb-team",
    }
    plan = plan_in(tmp_path, environ)
    assert plan.api_token == "team-token"
    assert plan.env["FIREBREAK_DATABASE_URL"] == "postgresql+asyncpg://db/firebreak"
    assert plan.env["SLACK_BOT_TOKEN"] == "xoxb-team"
    # The file keeps its own generated token for a later run without the variable.
    assert envfile.read(tmp_path / "env")["FIREBREAK_API_TOKEN"] != "team-token"


def test_without_a_database_url_the_bot_uses_sqlite_in_the_work_dir(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    assert plan.env["FIREBREAK_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path}/firebreak.db"


def test_silences_go_to_the_alertmanager_of_the_run_unless_one_is_set(tmp_path: Path) -> None:
    assert plan_in(tmp_path).env["ALERTMANAGER_URL"] == (
        f"http://127.0.0.1:{PORTS['alertmanager']}"
    )
    team = plan_in(tmp_path, {"ALERTMANAGER_URL": "http://am.team:9093"})
    assert team.env["ALERTMANAGER_URL"] == "http://am.team:9093"


def test_graphs_come_from_the_prometheus_of_the_run_unless_one_is_set(tmp_path: Path) -> None:
    assert plan_in(tmp_path).env["FIREBREAK_PROMETHEUS_URL"] == (
        f"http://127.0.0.1:{PORTS['prometheus']}"
    )
    team = plan_in(tmp_path, {"FIREBREAK_PROMETHEUS_URL": "https://prom.team"})
    assert team.env["FIREBREAK_PROMETHEUS_URL"] == "https://prom.team"


def test_prometheus_scrapes_both_with_their_labels_and_alerts_the_local_alertmanager(
    tmp_path: Path,
) -> None:
    plan = plan_in(tmp_path)
    config = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["static_configs"][0] for job in config["scrape_configs"]}
    assert jobs["lnn-service"] == {
        "targets": ["127.0.0.1:18090"],
        "labels": {"namespace": "firebreak", "deployment": "lnn-service"},
    }
    assert jobs["firebreak"] == {
        "targets": ["127.0.0.1:18080"],
        "labels": {"namespace": "firebreak", "deployment": "firebreak"},
    }
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["127.0.0.1:19093"]
    shipped = sorted(p.name for p in ROOT.glob("deploy/prometheus/*-rules.yaml"))
    assert sorted(Path(p).name for p in config["rule_files"]) == shipped
    assert all(Path(p).parent == tmp_path / "prometheus" / "rules" for p in config["rule_files"])
    assert "--web.listen-address=127.0.0.1:19090" in plan.prometheus.argv


def test_alertmanager_sends_to_the_local_bot_with_the_token_file(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    config = yaml.safe_load((tmp_path / "alertmanager" / "alertmanager.yml").read_text())
    (receiver,) = [r for r in config["receivers"] if r["name"] == "firebreak"]
    hook = receiver["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:18080/webhooks/alertmanager"
    assert hook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": str(tmp_path / "alertmanager-token"),
    }
    assert hook["send_resolved"] is True
    assert (config["route"]["group_wait"], config["route"]["group_interval"]) == ("5s", "10s")
    assert "--cluster.listen-address=" in plan.alertmanager.argv
    assert "--web.listen-address=127.0.0.1:19093" in plan.alertmanager.argv


def test_alertmanager_rewrite_caps_child_routes_and_needs_the_receiver() -> None:
    text = json.dumps(
        {
            "route": {
                "receiver": "firebreak",
                "group_wait": "1s",
                "routes": [{"receiver": "firebreak", "group_interval": "1h"}, {"receiver": "x"}],
            },
            "receivers": [
                {"name": "firebreak", "webhook_configs": [{"url": "http://elsewhere/"}]},
                {"name": "x"},
            ],
        }
    )
    config = yaml.safe_load(
        alertmanager.rewrite(text, bot_url="http://127.0.0.1:1/", token_file=Path("/t"))
    )
    route = config["route"]
    assert (route["group_wait"], route["group_interval"]) == ("1s", "10s")
    assert route["routes"] == [
        {"receiver": "firebreak", "group_interval": "10s"},
        {"receiver": "x"},
    ]
    assert config["receivers"][0]["webhook_configs"][0]["url"] == (
        "http://127.0.0.1:1/webhooks/alertmanager"
    )
    with pytest.raises(ValueError, match="no webhook receiver 'firebreak'"):
        alertmanager.rewrite(
            "route: {receiver: x}\nreceivers: [{name: x}]\n",
            bot_url="http://b",
            token_file=Path("/t"),
        )


def test_components_listen_on_loopback_and_start_in_dependency_order(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    assert [c.name for c in plan.components] == [
        "lnn-service",
        "bot",
        "alertmanager",
        "prometheus",
    ]
    assert plan.bot.argv == [
        "/venv/bin/firebreak",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "18080",
    ]
    assert plan.lnn.argv[1:3] == ["lnn", "serve"]
    assert plan.migrate == ["/venv/bin/firebreak", "db", "upgrade"]


def test_the_banner_says_where_everything_is_without_printing_the_secret(tmp_path: Path) -> None:
    from launcher.banner import banner
    from launcher.load import Load

    plan = plan_in(tmp_path)
    text = banner(plan, Layout(tmp_path), {}, Load())
    for address in ("127.0.0.1:18080", "127.0.0.1:18090", "127.0.0.1:19090", "127.0.0.1:19093"):
        assert address in text
    assert plan.api_token not in text
    curl = next(line for line in text.splitlines() if "curl" in line)
    assert f"s/^FIREBREAK_API_TOKEN=//p' {tmp_path}/env" in curl
    assert "drill latency" in text
    assert "20,000 inferences/s" in text
    # The web page's link carries a ticket signed with the token, never the token.
    web = next(line for line in text.splitlines() if line.startswith("  web page"))
    assert "http://127.0.0.1:18080/ui/sign-in?ticket=v1." in web
    assert plan.env["FIREBREAK_PUBLIC_URL"] == "http://127.0.0.1:18080"


def test_the_banner_says_whether_pages_and_emails_go_out(tmp_path: Path) -> None:
    from launcher.banner import banner

    plan = plan_in(tmp_path)
    quiet = banner(plan, Layout(tmp_path), {}, None)
    assert "PagerDuty     not configured: pages are printed in the bot's log" in quiet
    assert "Email         not configured: emails are printed in the bot's log" in quiet
    configured = {"PAGERDUTY_ROUTING_KEY": "x" * 32, "FIREBREAK_SMTP_URL": "smtp://127.0.0.1"}
    loud = banner(plan, Layout(tmp_path), configured, None)
    assert "PAGERDUTY_ROUTING_KEY is set: pages go to PagerDuty" in loud
    assert "FIREBREAK_SMTP_URL is set: escalation emails are sent" in loud
    assert "x" * 32 not in loud
