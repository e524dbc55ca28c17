"""The four services as real processes, each under its supervisor (deploy/supervise.sh), on
prefixed topics and a database of their own: what the fault trials and the outage trials run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from tests.e2e.conftest import SECRET
from tests.support.processes import ROOT, answers, free_port, wait_for

SERVICES = ("gateway", "scoring", "notify", "outreach")


@dataclass
class Supervised:
    name: str
    process: subprocess.Popen[bytes]
    run_dir: Path
    health: str
    ready: str

    def child_pid(self) -> int | None:
        file = self.run_dir / f"{self.name}.child.pid"
        return int(file.read_text().split()[0]) if file.exists() else None


@dataclass
class Platform:
    api: str
    kafka: KafkaSettings
    dsn: str
    sink: Path
    env: dict[str, str]
    services: dict[str, Supervised] = field(default_factory=dict)


@contextmanager
def supervised_platform(
    kafka_bootstrap: str, database_url: str, unique: str, tmp_path: Path
) -> Iterator[Platform]:
    database = f"faults_{unique}"

    async def create() -> None:
        connection = await asyncpg.connect(database_url)
        await connection.execute(f'CREATE DATABASE "{database}"')
        await connection.close()

    asyncio.run(create())
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"faults-{unique}.")
    ensure_topics(kafka)
    ports = {name: free_port() for name in SERVICES}
    dsn = database_url.rsplit("/", 1)[0] + f"/{database}"
    env = {
        **os.environ,
        "MINGDENG_RUN_DIR": str(tmp_path),
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_DATABASE_URL": dsn,
        "MINGDENG_GATEWAY_ENVIRONMENT": "test",
        "MINGDENG_GATEWAY_JWT_SECRET": SECRET,
        "MINGDENG_GATEWAY_PORT": str(ports["gateway"]),
        "MINGDENG_GATEWAY_PUBLISH_TIMEOUT_S": "8",
        "MINGDENG_SCORING_WEB_PORT": str(ports["scoring"]),
        "MINGDENG_SCORING_DATA_DIR": str(tmp_path / "scoring"),
        "MINGDENG_NOTIFY_HEALTH_PORT": str(ports["notify"]),
        "MINGDENG_OUTREACH_HEALTH_PORT": str(ports["outreach"]),
        "MINGDENG_NOTIFY_SINK_FILE": str(tmp_path / "sms.jsonl"),
        "MINGDENG_NOTIFY_SETTLE_AFTER_S": "2",
        "MINGDENG_NOTIFY_SCHEDULE_EVERY_S": "1",
        **{f"MINGDENG_NOTIFY_PER_{w}": "100000" for w in ("MINUTE", "HOUR", "DAY")},
    }
    platform = Platform(
        f"http://127.0.0.1:{ports['gateway']}", kafka, dsn, tmp_path / "sms.jsonl", env
    )
    try:
        for name in SERVICES:
            binary = str(ROOT / f".venv/bin/mingdeng-{name}")
            if name != "scoring":  # scoring keeps no tables
                done = subprocess.run(
                    [binary, "prestart"], env=env, capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, done.stderr
            base = f"http://127.0.0.1:{ports[name]}"
            process = subprocess.Popen(
                [str(ROOT / "deploy/supervise.sh"), name, str(tmp_path / f"{name}.log"),
                 binary, "serve" if name == "gateway" else "run"],
                env={**env, "SUPERVISE_HEALTH_URL": f"{base}/healthz"}, start_new_session=True,
            )  # fmt: skip
            platform.services[name] = Supervised(
                name, process, tmp_path, f"{base}/healthz", f"{base}/readyz"
            )
            wait_for(lambda b=base: answers(f"{b}/healthz"), 60, f"{name} up")  # type: ignore[misc]
        yield platform
    finally:
        for service in platform.services.values():
            service.process.send_signal(signal.SIGTERM)
        for service in platform.services.values():
            try:
                service.process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                raise


def deploy_script(script: str) -> None:
    # a session of its own: the broker it starts outlives this test process
    done = subprocess.run([str(ROOT / "deploy" / script)], capture_output=True, text=True, timeout=180,
                          start_new_session=True)  # fmt: skip
    assert done.returncode == 0, done.stderr


def kill_kafka() -> None:
    """kill -9 of the test broker, as a crash of its machine would look; `kafka/start.sh` starts
    it again."""
    pidfile = Path(os.environ["MINGDENG_RUN_DIR"]) / "kafka" / "kafka.pid"
    pid = int(pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10, "the broker gone")


def stop_dependency(dependency: str) -> None:
    if dependency == "kafka":
        kill_kafka()
    else:
        deploy_script("postgres/stop.sh")
