"""What firebreak graphs for each shipped alert is PromQL Prometheus itself accepts: every
series split out of a rule in ``deploy/prometheus/`` (``bot/domain/promql.py``) is checked by
``promtool check rules`` as a recording rule's expression."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from bot.domain.promql import split
from tests.support.binaries import need

pytestmark = pytest.mark.binary

ROOT = Path(__file__).resolve().parents[2]


def test_every_graphed_series_of_the_shipped_rules_is_valid_promql(tmp_path: Path) -> None:
    promtool = need("promtool")
    records: list[dict[str, str]] = []
    for path in sorted(ROOT.glob("deploy/prometheus/*-rules.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    records.append(
                        {
                            "record": f"graph:{rule['alert']}:{len(records)}",
                            "expr": split(rule["expr"]).expr,
                        }
                    )
    assert len(records) >= 20
    rules = tmp_path / "graphed.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "graphed", "rules": records}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout + result.stderr
