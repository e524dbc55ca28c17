"""The services start as `make up` starts them, answer health checks, and stop cleanly."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def run_dir() -> Path:
    value = os.environ.get("MINGDENG_TEST_RUN_DIR")
    if not value:
        message = "MINGDENG_TEST_RUN_DIR is not set; run through `make test`"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    return Path(value)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def services(run_dir: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "deploy/services.sh"), action],
        env={**os.environ, "MINGDENG_RUN_DIR": str(run_dir)},
        capture_output=True,
        text=True,
        timeout=180,
    )


def running(pid: int) -> bool:
    """Alive and not a zombie (here nothing may reap an orphan: it ended all the same)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_all_four_services_start_answer_and_stop(
    kafka_bootstrap: str, database_url: str, run_dir: Path
) -> None:
    env = dict(line.split("=", 1) for line in (run_dir / "mingdeng.env").read_text().split())
    ports = {
        "gateway": env["MINGDENG_GATEWAY_PORT"],
        "scoring": env["MINGDENG_SCORING_WEB_PORT"],
        "notify": env["MINGDENG_NOTIFY_HEALTH_PORT"],
        "outreach": env["MINGDENG_OUTREACH_HEALTH_PORT"],
    }
    started = services(run_dir, "start")
    try:
        assert started.returncode == 0, started.stderr
        for name, port in ports.items():
            status, body = get(f"http://127.0.0.1:{port}/healthz")
            assert (status, '"ok"' in body) == (200, True), name
        for name in ("gateway", "notify", "outreach"):
            status, body = get(f"http://127.0.0.1:{ports[name]}/readyz")
            assert status == 200, f"{name}: {body}"
        # "PID STARTTIME" of each supervisor and of the service it runs
        pids = {
            f"{name}{kind}": int((run_dir / f"{name}{kind}.pid").read_text().split()[0])
            for name in ports
            for kind in ("", ".child")
        }
    finally:
        stopped = services(run_dir, "stop")
    assert stopped.returncode == 0, stopped.stderr
    for name, pid in pids.items():
        assert not running(pid), f"{name} still runs"
    for name in ports:
        assert "Traceback" not in (run_dir / "logs" / f"{name}.log").read_text(), name
