"""Services as real processes, on prefixed topics and a database of their own per test."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from tests.conftest import IN_CI
from tests.support.processes import ROOT, Service, free_port

SECRET = "e2e-secret-0123456789abcdef0123456789"
PRESTART = {"gateway", "notify", "outreach"}
RUN = {"gateway": "serve", "scoring": "run", "notify": "run", "outreach": "run"}
HEALTH_PORT = {
    "gateway": "MINGDENG_GATEWAY_PORT",
    "scoring": "MINGDENG_SCORING_WEB_PORT",
    "notify": "MINGDENG_NOTIFY_HEALTH_PORT",
    "outreach": "MINGDENG_OUTREACH_HEALTH_PORT",
}


def token(role: str, subject: str, source: str | None = None) -> dict[str, str]:
    jwt = issue_token(SECRET, Principal(subject, role, source), timedelta(hours=1))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


@dataclass
class Platform:
    api: str
    kafka: KafkaSettings
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)
    launch: Callable[[str], None] = lambda name: None  # start one more service on it


@pytest.fixture
def platform_of(
    kafka_bootstrap: str, database_url: str, unique: str, tmp_path: Path
) -> Iterator[Callable[..., Platform]]:
    started: list[Service] = []

    def start(*names: str, **settings: str) -> Platform:
        database = f"e2e_{unique}"

        async def create() -> None:
            connection = await asyncpg.connect(database_url)
            await connection.execute(f'CREATE DATABASE "{database}"')
            await connection.close()

        asyncio.run(create())
        kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"e2e-{unique}.")
        ensure_topics(kafka)
        env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "MINGDENG_DATABASE_URL": database_url.rsplit("/", 1)[0] + f"/{database}",
            "MINGDENG_GATEWAY_ENVIRONMENT": "test",
            "MINGDENG_GATEWAY_JWT_SECRET": SECRET,
            "MINGDENG_SCORING_DATA_DIR": str(tmp_path / "scoring"),
            **{variable: str(free_port()) for variable in HEALTH_PORT.values()},
            **settings,
        }
        platform = Platform(f"http://127.0.0.1:{env['MINGDENG_GATEWAY_PORT']}", kafka, env)

        def launch(name: str) -> None:
            if name in PRESTART:
                done = subprocess.run(
                    [str(ROOT / f".venv/bin/mingdeng-{name}"), "prestart"],
                    env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
                )  # fmt: skip
                assert done.returncode == 0, done.stderr
            service = Service([f"mingdeng-{name}", RUN[name]], env, tmp_path / f"{name}.log")
            started.append(service)
            service.start(f"http://127.0.0.1:{env[HEALTH_PORT[name]]}/healthz")
            platform.services[name] = service

        platform.launch = launch
        for name in names:
            launch(name)
        return platform

    yield start
    failed = []
    for service in reversed(started):
        if service.process is None or service.process.poll() is not None:
            continue
        code = service.stop()
        log = service.log.read_text()
        # uvicorn re-raises SIGTERM once it has shut down gracefully
        if code not in (0, -signal.SIGTERM) or "Traceback" in log:
            failed.append(f"{service.command[0]} exited {code}; see {service.log}")
    assert not failed, failed


# --- the browser (Debian's chromium through Playwright) -------------------------------

CHROMIUM = Path("/usr/bin/chromium")

try:
    from playwright import sync_api
except ImportError:  # a dev dependency: missing only in an environment not synced from uv.lock
    sync_api = None  # type: ignore[assignment]


def missing(what: str, how: str) -> None:
    """Under CI=true a missing browser or driver fails the test; elsewhere it skips it."""
    if IN_CI:
        pytest.fail(f"{what} is missing (CI=true: a failure, not a skip); {how}", pytrace=False)
    pytest.skip(f"{what} is missing; {how}")


@pytest.fixture
def browser_of() -> Iterator[Callable[[], object]]:
    """Starts chromium when called: after the services, whose start runs an event loop of its
    own (Playwright's sync API keeps one running in this thread)."""
    if sync_api is None:
        missing("Playwright", "`uv sync` installs it (a dev dependency in uv.lock)")
    if not CHROMIUM.exists():
        missing("chromium", "deploy/test.sh installs it (apt-get install chromium)")
    with ExitStack() as stack:

        def launch() -> object:
            playwright = stack.enter_context(sync_api.sync_playwright())
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            stack.callback(launched.close)
            return launched

        yield launch
