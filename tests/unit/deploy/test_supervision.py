"""deploy/lib.sh and deploy/supervise.sh: pid files that identify a process, and a service
started again whatever the way it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
LIB = ROOT / "deploy/lib.sh"


def bash(script: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"source {LIB}; {script}"],
        env={**os.environ, "MINGDENG_RUN_DIR": str(run_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def alive(pidfile: Path, run_dir: Path) -> bool:
    return bash(f"pid_alive {pidfile}", run_dir).returncode == 0


def test_pid_alive_knows_a_running_process_a_zombie_and_a_recycled_pid(tmp_path: Path) -> None:
    pidfile = tmp_path / "x.pid"
    running = subprocess.Popen(["sleep", "30"])
    try:
        assert bash(f"write_pidfile {pidfile} {running.pid}", tmp_path).returncode == 0
        pid, start = pidfile.read_text().split()
        assert int(pid) == running.pid and start.isdigit()
        assert alive(pidfile, tmp_path)
        pidfile.write_text(f"{running.pid} {int(start) + 1}\n")  # the pid, another process
        assert not alive(pidfile, tmp_path)
    finally:
        running.kill()
        running.wait()
    zombie = subprocess.Popen(["true"])
    time.sleep(0.5)  # it has ended; nobody has reaped it yet
    pidfile.write_text(f"{zombie.pid}\n")
    assert not alive(pidfile, tmp_path)
    zombie.wait()
    assert not alive(pidfile, tmp_path)


def wait_for(condition, timeout_s: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.parametrize("ending", ["exit 0", "exit 75", "exit 1", "kill -9"])
def test_supervisor_starts_the_service_again_however_it_ended_and_stops_it_on_term(
    tmp_path: Path, ending: str
) -> None:
    log = tmp_path / "svc.log"
    runs = tmp_path / "runs"
    body = f"echo run >> {runs}; " + ("sleep 30" if ending == "kill -9" else f"sleep 0.3; {ending}")
    supervisor = subprocess.Popen(
        [str(ROOT / "deploy/supervise.sh"), "svc", str(log), "bash", "-c", body],
        env={**os.environ, "MINGDENG_RUN_DIR": str(tmp_path)},
    )
    child = tmp_path / "svc.child.pid"

    def run_count() -> int:
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    try:
        if ending == "kill -9":
            wait_for(lambda: run_count() == 1 and child.exists())
            os.kill(int(child.read_text().split()[0]), signal.SIGKILL)
        wait_for(lambda: run_count() >= 2)
        assert "starting again in 1 s" in log.read_text()
        wait_for(lambda: child.exists() and alive(child, tmp_path))
        last = int(child.read_text().split()[0])
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(40) == 0
    assert not child.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(last, 0)
    assert "stopped" in log.read_text().splitlines()[-1]
