"""The launcher's generated configs as the real tools read them (promtool, amtool), its
port check, and ``firebreak drill`` against a real LNN service on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main as firebreak
from launcher.layout import Layout
from launcher.load import Load, batch_body, generate
from launcher.plan import prepare
from launcher.ports import PortTaken, check_free
from launcher.rules import shorten
from lnn_service.server import bind, start, stop
from lnn_service.settings import Settings
from tests.support.binaries import need

ROOT = Path(__file__).resolve().parents[2]
PORTS = {"bot": 18080, "lnn": 18090, "prometheus": 19090, "alertmanager": 19093}
ADMIN = "drill-admin-token"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("deploy/prometheus/*-rules.yaml")), ids=lambda p: p.name
)
def test_promtool_accepts_every_shortened_rules_file(path: Path, tmp_path: Path) -> None:
    promtool = need("promtool")
    short = tmp_path / path.name
    short.write_text(shorten(path.read_text(), window="30s", for_="15s"))
    result = run(promtool, "check", "rules", str(short))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_and_alertmanager_accept_the_generated_configs(tmp_path: Path) -> None:
    promtool = need("promtool")
    amtool = need("amtool")
    prepare(
        root=ROOT,
        layout=Layout(tmp_path),
        ports=PORTS,
        environ={},
        firebreak="firebreak",
        prometheus_binary="prometheus",
        alertmanager_binary="prometheus-alertmanager",
    )
    result = run(promtool, "check", "config", str(tmp_path / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    result = run(amtool, "check-config", str(tmp_path / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_taken_port_is_named_with_how_to_choose_another() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortTaken) as caught:
            check_free({"bot": (port, "--bot-port or FIREBREAK_RUN_BOT_PORT")})
    assert str(caught.value) == (
        f"port {port} (bot) is already in use: choose another with "
        "--bot-port or FIREBREAK_RUN_BOT_PORT"
    )


@pytest.fixture
async def lnn_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(host="127.0.0.1", port=0, admin_token=ADMIN)
    sock = bind("127.0.0.1", 0, reuse_port=False)
    runner, fast = await start(settings, sock)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    await stop(runner, fast)


async def drill(env_file: Path, *args: str) -> int:
    # The CLI blocks on urllib: off the loop, which serves the LNN service meanwhile.
    return await asyncio.to_thread(firebreak, ["--env-file", str(env_file), "drill", *args])


async def faults(url: str) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/admin/faults", headers={"Authorization": f"Bearer {ADMIN}"}) as r,
    ):
        answer: dict[str, object] = await r.json()
        return answer


async def test_drills_flip_the_switch_and_say_what_to_expect(
    lnn_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(f"FIREBREAK_LNN_URL={lnn_url}\nLNN_ADMIN_TOKEN={ADMIN}\n")
    assert await drill(env_file, "latency") == 0
    assert (await faults(lnn_url))["latency_ms"] == 250.0
    out = capsys.readouterr().out
    assert f"drill latency on: the LNN service at {lnn_url} adds 250 ms" in out
    assert "LNNHighLatency (severity critical): a P1 incident" in out
    assert "Lift it: firebreak drill latency --off" in out

    assert await drill(env_file, "errors") == 0
    assert await faults(lnn_url) == {
        "latency_ms": 0.0,
        "error_rate": 0.05,
        "down": False,
        "active": True,
    }
    assert await drill(env_file, "down") == 0
    assert (await faults(lnn_url))["down"] is True
    assert "LNNServiceDown" in capsys.readouterr().out
    async with aiohttp.ClientSession() as session, session.get(lnn_url + "/metrics") as r:
        assert r.status == 503, "Prometheus' scrape fails while the service is down"

    assert await drill(env_file, "--off") == 0
    assert (await faults(lnn_url))["active"] is False
    assert "drill off" in capsys.readouterr().out


async def test_a_drill_without_the_admin_token_says_how_to_get_it(
    lnn_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LNN_ADMIN_TOKEN", raising=False)
    env_file = tmp_path / "env"
    env_file.write_text(f"FIREBREAK_LNN_URL={lnn_url}\n")
    assert await drill(env_file, "latency") == 1
    err = capsys.readouterr().err
    assert "refused the drill: 401" in err
    assert "LNN_ADMIN_TOKEN" in err
    assert (await faults(lnn_url))["active"] is False


async def test_a_drill_with_nothing_listening_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env_file = tmp_path / "env"
    env_file.write_text(f"FIREBREAK_LNN_URL=http://127.0.0.1:{port}\nLNN_ADMIN_TOKEN=x\n")
    assert await drill(env_file, "down") == 1
    assert "is `make run` running?" in capsys.readouterr().err
    assert await drill(env_file) == 2, "neither a drill nor --off"


def test_the_default_load_keeps_the_throughput_rule_quiet_with_margin() -> None:
    # The shipped rule warns below 15,000 inferences/s: a quiet run must stay clear of it.
    assert Load().inferences_per_second >= 15_000 * 1.25
    assert len(batch_body(Load().rows)) == Load().rows * 4 * 4, "float32 rows of 4"


async def test_the_load_generator_is_answered_and_stops_when_told(lnn_url: str) -> None:
    stop_load = asyncio.Event()
    task = asyncio.create_task(generate(lnn_url, Load(rows=100, per_second=50), stop_load))

    async def inferences() -> float:
        async with aiohttp.ClientSession() as session, session.get(lnn_url + "/metrics") as r:
            text = await r.text()
        ok = [x for x in text.splitlines() if x.startswith('lnn_inferences_total{outcome="ok"}')]
        return float(ok[0].split()[-1]) if ok else 0.0

    while await inferences() < 500:
        await asyncio.sleep(0.05)
    stop_load.set()
    stats = await asyncio.wait_for(task, 30)
    assert stats.ok >= 5
    assert stats.failed == 0
    assert stats.statuses == {200: stats.ok}
