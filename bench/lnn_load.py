"""Driving a server with wrk: Lua scripts that report p50/p99/p99.9, and parsing the result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = shutil.which("wrk") or "/usr/bin/wrk"

_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "errors": %d, "micros": %d, "p50": %d, "p99": %d, "p999": %d}\\n',
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9)))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def lua_script(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> str:
    # Every byte as a decimal escape: long strings would fold CR LF and drop a leading
    # newline, which corrupts binary bodies.
    escaped = "".join(f"\\{b}" for b in body)
    extra = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in (headers or {}).items())
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f"{extra}"
        f'wrk.body = "{escaped}"\n' + _REPORT
    )


def run_wrk(
    url: str,
    body: bytes,
    content_type: str,
    connections: int,
    seconds: float,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """One bounded wrk run (``seconds`` long, ``connections`` open) against ``url``."""
    if not os.path.exists(WRK):
        raise FileNotFoundError("wrk is not installed (Debian package wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_bytes(lua_script(body, content_type, headers).encode("latin-1"))
        proc = subprocess.run(
            [
                WRK,
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    return LoadResult(
        requests=raw["requests"],
        errors=raw["errors"],
        seconds=raw["micros"] / 1e6,
        p50_ms=raw["p50"] / 1000,
        p99_ms=raw["p99"] / 1000,
        p999_ms=raw["p999"] / 1000,
    )
