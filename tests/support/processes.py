"""Run a service as a real process for a test, and stop it the way an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.3)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Service:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, health_url: str, timeout_s: float = 60) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / self.command[0]), *self.command[1:]],
            env={**os.environ, **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a teardown kill reaches its children
        )
        wait_for(
            lambda: answers(health_url) or self.process.poll() is not None, timeout_s, health_url
        )  # type: ignore[union-attr]
        assert self.process.poll() is None, f"{self.command} exited; see {self.log}"

    def kill_if_running(self) -> None:
        """For test teardown: a failed test must not leave its process behind."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"{self.command} did not stop within {timeout_s} s") from None
