"""The LNN alert rules (deploy/prometheus/lnn-rules.yaml) read metrics the service really
exposes, under the names and endpoint labels its /metrics gives them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.lnn.conftest import Client

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "lnn-rules.yaml"
SEED_INPUT = [0.1, -0.2, 0.8, 0.5]


def _expressions() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


async def test_every_service_metric_a_rule_reads_is_exposed(client: Client) -> None:
    assert (await client.post("/inference", json={"input": SEED_INPUT})).status == 200
    batch = await client.post("/inference/batch", json={"inputs": [SEED_INPUT, SEED_INPUT]})
    assert batch.status == 200
    text = await (await client.get("/metrics")).text()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    exposed = {sample.name for sample in samples}
    # kube_* (kube-state-metrics), container_* (cAdvisor) and `up` come from elsewhere.
    read = {
        name
        for expr in _expressions()
        for name in re.findall(r"\b((?:lnn|process)_[a-z_]+)\{", expr)
    }
    assert read, "the rules read no service metric?"
    assert read <= exposed, read - exposed
    # The endpoints the rules select are the labels the latency histogram carries.
    endpoints = {
        s.labels["endpoint"] for s in samples if s.name == "lnn_request_latency_seconds_bucket"
    }
    selections = [
        set(selected.split("|"))
        for expr in _expressions()
        for selected in re.findall(r'endpoint=~"([^"]+)"', expr)
    ]
    assert selections
    for selected in selections:
        assert selected == {"/inference", "/inference/batch"}, selected
        assert selected <= endpoints, endpoints
