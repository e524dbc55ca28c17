"""The example alert rules parse and only read metrics the services export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mingdeng.runtime.metrics import consumer_families

ROOT = Path(__file__).parents[3]
RULES = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
EXPORTED = {
    *(f.name + ("_total" if f.kind == "counter" else "") for f in consumer_families([])),
    "mingdeng_parked_records",  # runtime.metrics.parked_families
    "mingdeng_notify_outbox",  # notify: outbox_family
    "mingdeng_http_requests_total",  # gateway
}


def test_every_rule_is_complete_and_reads_exported_metrics() -> None:
    rules = [rule for group in RULES["groups"] for rule in group["rules"]]
    assert len(rules) >= 8
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names)
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "warn", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook"].startswith("docs/operations.md#")
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        for metric in re.findall(r"\bmingdeng_[a-z_]+", rule["expr"]):
            assert metric in EXPORTED, f"{rule['alert']}: {metric} is not exported"


def test_runbook_anchors_exist_in_the_operations_guide() -> None:
    guide = (ROOT / "docs/operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in guide.splitlines()
        if line.startswith("#")
    }
    for group in RULES["groups"]:
        for rule in group["rules"]:
            anchor = rule["annotations"]["runbook"].split("#", 1)[1]
            assert anchor in anchors, f"{rule['alert']}: no section #{anchor}"
