"""``firebreak drill``: flip the LNN service's fault switch (``POST /admin/faults``) so the
alert rules, Alertmanager and the bot can be watched doing their work, and say what to
expect. The service's URL and admin token come from the environment, else the env file the
launcher writes (``make run``), else the LNN service's defaults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DrillFailed

DEFAULT_LNN_URL = "http://127.0.0.1:8090"
LAUNCHER_ENV_FILE = Path(".firebreak/env")
LNN_URL_VARIABLE = "FIREBREAK_LNN_URL"
TOKEN_VARIABLE = "LNN_ADMIN_TOKEN"  # noqa: S105 (a variable name)
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Drill:
    """One fault: the switch's body, what it does, and the alert it should raise."""

    body: Mapping[str, object]
    does: str
    expect: str


# Each sets one fault (the switch's omitted fields are off): above the critical thresholds
# of the shipped rules (p99 100 ms, error rate 1 %), so the P1 rule, not the warning, pages.
DRILLS = {
    "latency": Drill(
        {"latency_ms": 250},
        "adds 250 ms to every inference (p99 latency well above the 100 ms critical threshold)",
        "LNNHighLatency (severity critical): a P1 incident",
    ),
    "errors": Drill(
        {"error_rate": 0.05},
        "fails 5 % of inferences with 503 (above the 1 % critical threshold)",
        "LNNHighErrorRate (severity critical): a P1 incident",
    ),
    "down": Drill(
        {"down": True},
        "answers 503 to everything but /admin/*, /metrics included (Prometheus sees it down)",
        "LNNServiceDown (severity critical): a P0 incident",
    ),
}
OFF = Drill({}, "serves normally again (every drill lifted)", "")


def lnn_endpoint(
    lnn_url: str | None,
    environ: Mapping[str, str],
    env_file: Mapping[str, str],
) -> tuple[str, str | None]:
    """The LNN service's base URL and admin token: the flag, then the environment, then
    the launcher's env file, then the default URL (and no token)."""
    url = lnn_url or environ.get(LNN_URL_VARIABLE) or env_file.get(LNN_URL_VARIABLE)
    token = environ.get(TOKEN_VARIABLE) or env_file.get(TOKEN_VARIABLE) or None
    return (url or DEFAULT_LNN_URL).rstrip("/"), token


def set_faults(url: str, token: str | None, body: Mapping[str, object]) -> Mapping[str, object]:
    """``POST /admin/faults``; the switch's new state, or ``DrillFailed`` saying why not."""
    if not url.startswith(("http://", "https://")):
        raise DrillFailed(f"the LNN service URL must be http(s): {url}")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url + "/admin/faults",
        data=json.dumps(dict(body)).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            answer: Mapping[str, object] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        hint = ""
        if exc.code == 401:
            hint = f" (set {TOKEN_VARIABLE}, or run where make run wrote {LAUNCHER_ENV_FILE})"
        raise DrillFailed(
            f"the LNN service at {url} refused the drill: {exc.code} {detail}{hint}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DrillFailed(
            f"cannot reach the LNN service at {url} ({exc}); is `make run` running? "
            "(--lnn-url to point elsewhere)"
        ) from exc


def report(kind: str | None, url: str, off: bool) -> str:
    """What was set, what to expect, and how to lift it."""
    if off:
        return (
            f"drill off: the LNN service at {url} {OFF.does}.\n"
            "Expect the alert to resolve within about a minute, and with it the incident "
            "(GET /api/incidents?status=resolved, the bot's log)."
        )
    assert kind is not None
    drill = DRILLS[kind]
    return (
        f"drill {kind} on: the LNN service at {url} {drill.does}.\n"
        f"Expect within about a minute: {drill.expect} in firebreak "
        "(GET /api/incidents, the bot's log; Prometheus /alerts shows it pending first).\n"
        f"Lift it: firebreak drill {kind} --off"
    )
