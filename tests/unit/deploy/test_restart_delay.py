"""The supervisor's pause before a restart (restart_delay in deploy/lib.sh): a crash of a run
that was in service is met at once; a crash loop still backs off."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


def restart_delay(last: int, ran_s: int, healthy: bool) -> int:
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"source {ROOT / 'deploy/lib.sh'}; restart_delay {last} {ran_s} {int(healthy)}",
        ],
        env={**os.environ, "MINGDENG_RUN_DIR": os.environ.get("TMPDIR", "/tmp")},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize("last", [0, 1, 8, 30])
def test_after_a_run_in_service_the_restart_comes_after_1_s_whatever_came_before(last: int) -> None:
    assert restart_delay(last, ran_s=12, healthy=True) == 1  # killed 12 s after a healthy start
    assert restart_delay(last, ran_s=75, healthy=False) == 1  # a minute up: no health URL needed


def test_a_crash_loop_doubles_the_pause_up_to_30_s() -> None:
    delays, last = [], 0
    for _ in range(7):  # each run ends within seconds, never healthy
        last = restart_delay(last, ran_s=2, healthy=False)
        delays.append(last)
    assert delays == [1, 2, 4, 8, 16, 30, 30]


def test_healthy_but_crashing_within_seconds_is_a_crash_loop_too() -> None:
    assert restart_delay(4, ran_s=3, healthy=True) == 8


@pytest.mark.parametrize("answers_health", [True, False])
def test_the_supervisor_restarts_a_run_that_was_healthy_at_once_and_backs_off_otherwise(
    tmp_path: Path, answers_health: bool
) -> None:
    log = tmp_path / "svc.log"
    health = tmp_path / "health"
    # each run answers its health check (curl reads a file:// URL) and crashes after 1.2 s
    body = ("touch " + str(health) + "; " if answers_health else "") + "sleep 1.2; exit 1"
    supervisor = subprocess.Popen(
        [str(ROOT / "deploy/supervise.sh"), "svc", str(log), "bash", "-c", body],
        env={
            **os.environ,
            "MINGDENG_RUN_DIR": str(tmp_path),
            "SUPERVISE_HEALTH_URL": f"file://{health}",
            "HEALTHY_RUN_S": "1",
        },
    )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("exited") < 3 if log.exists() else True:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(40) == 0
    notes = [line.split(": ", 1)[1] for line in log.read_text().splitlines() if "exited" in line]
    if answers_health:
        assert all(n.endswith("(healthy); starting again in 1 s") for n in notes[:3]), notes
    else:
        assert [n.rsplit(" ", 2)[1] for n in notes[:3]] == ["1", "2", "4"], notes
        assert "(not seen healthy)" in notes[0]
