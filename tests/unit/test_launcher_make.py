"""``make run`` installs only what the launcher starts; the test-only Debian packages
(podman, runc, debootstrap, wrk, kubectl) stay behind ``make test``."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = (Path(__file__).resolve().parents[2] / "Makefile").read_text()


def prerequisites(target: str) -> list[str]:
    found = re.search(rf"^{re.escape(target)}:(.*)$", MAKEFILE, re.MULTILINE)
    assert found is not None, f"no {target} target"
    return found.group(1).split()


def variable(name: str) -> list[str]:
    found = re.search(rf"^{name} := (.*)$", MAKEFILE, re.MULTILINE)
    assert found is not None, f"no {name}"
    return found.group(1).split()


def test_make_run_installs_only_prometheus_and_alertmanager() -> None:
    assert "run-debs" in prerequisites("run")
    assert "debs" not in prerequisites("run")
    assert sorted(variable("RUN_DEB_PACKAGES")) == ["prometheus", "prometheus-alertmanager"]
    assert "$(RUN_DEB_PACKAGES)" in MAKEFILE.split("\nrun-debs:", 1)[1].split("\n\n", 1)[0]


def test_make_test_still_installs_every_package_the_tests_drive() -> None:
    assert "debs" in prerequisites("deps")
    assert "deps" in prerequisites("test")
    assert {"podman", "runc", "debootstrap", "wrk"} <= set(variable("DEB_PACKAGES"))
