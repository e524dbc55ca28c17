"""The deploy scripts work from a clone in a private folder (mode 0700), as root.

As root, PostgreSQL runs as the `postgres` user, who cannot enter such a folder; the scripts keep
its files under /var/lib/mingdeng/ instead (deploy/postgres/common.sh). Kafka and the services
run as the current user and keep theirs in the run folder. Here the deploy scripts are copied
into a 0700 folder and run from there, with a run folder and ports of their own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mingdeng.runtime.health import kafka_answers
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").lower() == "true"
STATE_ROOT = Path("/var/lib/mingdeng")


class Clone:
    def __init__(self, base: Path) -> None:
        self.private = base / "private"
        self.private.mkdir()
        self.private.chmod(0o700)
        self.root = self.private / "clone"
        shutil.copytree(
            ROOT / "deploy", self.root / "deploy", ignore=shutil.ignore_patterns("__pycache__")
        )
        self.run_dir = self.root / ".run" / "private"
        self.pg_port, self.kafka_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "MINGDENG_RUN_DIR": str(self.run_dir),
            "PG_PORT": str(self.pg_port),
            "PG_DATABASE": "mingdeng_private",
            "PG_FSYNC": "off",
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
        }

    def run(self, script: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.root / "deploy" / script), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"

    def psql(self, sql: str) -> str:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), key=lambda p: int(p.parts[4]))
        assert bins, "psql not found under /usr/lib/postgresql"
        command = [str(bins[-1]), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres"]
        done = subprocess.run(
            [*command, "-d", "mingdeng_private", "-qAtc", sql],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def postgres_may_enter(folder: Path) -> bool:
    command = ["runuser", "-u", "postgres", "--", "test", "-x", str(folder)]
    return subprocess.run(command).returncode == 0


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Clone]:
    if os.geteuid() != 0:
        message = "the private-folder case is about root: PostgreSQL then runs as `postgres`"
        if IN_CI:
            pytest.fail(message + " (CI=true: run the suite as root)", pytrace=False)
        pytest.skip(message)
    made = Clone(tmp_path)
    try:
        yield made
    finally:
        made.run("clean.sh", str(made.run_dir))  # stops what is left and deletes the outside files
        shutil.rmtree(made.private, ignore_errors=True)


@pytest.mark.timeout(300)
def test_postgres_and_kafka_start_stop_and_clean_from_a_0700_folder(clone: Clone) -> None:
    clone.run("postgres/start.sh")
    assert not postgres_may_enter(clone.private), "the case under test: postgres may not enter"

    assert clone.psql("SELECT 1") == "1"
    outside = (clone.run_dir / "postgres").resolve()
    assert (clone.run_dir / "postgres").is_symlink() and outside.parent == STATE_ROOT
    assert clone.psql("SHOW data_directory") == str(outside / "data")
    assert clone.psql("SHOW unix_socket_directories") == str(outside)
    assert (clone.run_dir / "logs" / "postgres.log").read_text()  # root reads it through the link

    clone.run("kafka/start.sh")
    servers = f"127.0.0.1:{clone.kafka_port}"
    assert asyncio.run(kafka_answers(servers, timeout_s=10))
    assert (clone.run_dir / "kafka" / "data" / "meta.properties").is_file()

    clone.run("down.sh")
    assert not asyncio.run(kafka_answers(servers, timeout_s=2))
    assert (outside / "data" / "PG_VERSION").is_file(), "make down keeps the data"
    clone.run("postgres/start.sh")  # and a second start finds it
    assert clone.psql("SELECT datname FROM pg_database WHERE datname = 'mingdeng_private'")

    clone.run("clean.sh", str(clone.run_dir))
    assert not clone.run_dir.exists() and not outside.exists()
    # nothing of the private folder was opened on the way
    assert stat.S_IMODE(clone.private.stat().st_mode) == 0o700
    assert not postgres_may_enter(clone.private)
