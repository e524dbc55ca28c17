"""The committed AsyncAPI document passes the official validator (@asyncapi/cli)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.node_tools import run_node_tool


def test_asyncapi_cli_finds_nothing_to_report(tmp_path: Path) -> None:
    analytics = tmp_path / "asyncapi-analytics.json"  # off: the CLI would otherwise phone home
    analytics.write_text(
        json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "test"})
    )
    report = tmp_path / "diagnostics.json"
    validated = run_node_tool(
        "asyncapi",
        "validate",
        "shared/asyncapi.yaml",
        "--fail-severity=hint",
        "--diagnostics-format=json",
        f"--save-output={report}",
        home=tmp_path,
        env={"ASYNCAPI_METRICS_CONFIG_PATH": str(analytics)},
    )
    diagnostics = json.loads(report.read_text()) if report.exists() else None
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert diagnostics == [], diagnostics
