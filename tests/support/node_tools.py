"""The contract checkers of package.json (`deploy/bootstrap.sh` installs them with `npm ci`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def node_tool(name: str) -> Path:
    """The path of an installed checker; missing, the test is skipped, or fails under CI=true."""
    path = ROOT / "node_modules" / ".bin" / name
    if not path.exists():
        message = f"{name} is not installed; deploy/bootstrap.sh installs it (npm ci)"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing tool is a failure)", pytrace=False)
        pytest.skip(message)
    return path


def run_node_tool(
    name: str, *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a checker from the repository's root with `home` as its home (it may write there)."""
    return subprocess.run(
        [str(node_tool(name)), *args],
        cwd=ROOT,
        env={**os.environ, "HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
