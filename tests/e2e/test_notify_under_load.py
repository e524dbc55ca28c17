"""The notifier under continuous load (issue 27): killed (SIGKILL) while a provider holds a
reminder it claimed, then restarted while a producer keeps publishing about 200 events a
second. The claimed reminder is settled and sent within 60 s of the restart, every reminder
exactly once, and the schedule that is due (last month's bulletin) runs although no poll of the
log ever comes back empty."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from kafka import KafkaProducer

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, month_of
from mingdeng.contracts.topics import EVENTS
from tests.e2e.conftest import Platform
from tests.support.builders import Events
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
MEMBERS = 40
VIOLATIONS = 12
RATE = 200  # events a second, throughout


class HangingProvider:
    """Stands in for Aliyun and holds every request until released: a claim stays 'sending'."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                provider.held.set()
                provider.release.wait(60)
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


class SteadyTraffic:
    """Publishes lecture attendances at `RATE` a second from a thread until stopped."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        self.topic, self.published = topic, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._publish, daemon=True)

    def send(self, events: list[Event[EventData]]) -> None:
        for event in events:
            self.producer.send(self.topic, serialize_event(event), event.subject.encode())
        self.producer.flush()

    def _publish(self) -> None:
        e = Events(source="/systems/attendance", prefix="a")
        start = time.monotonic()
        while not self.stopping.is_set():
            data = ev.LectureAttended(lecture_id="L1", member_id=f"m{self.published % MEMBERS}")
            event = e(data, datetime.now(UTC))
            self.producer.send(self.topic, serialize_event(event), event.subject.encode())
            self.published += 1
            ahead = self.published / RATE - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    def __enter__(self) -> SteadyTraffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.producer.close()


@pytest.fixture
def hanging_provider() -> Iterator[HangingProvider]:
    provider = HangingProvider()
    yield provider
    provider.close()


def sent(sink: Path) -> Counter[str]:
    if not sink.exists():
        return Counter()
    return Counter(json.loads(line)["key"] for line in sink.read_text().splitlines() if line)


def rows(platform: Platform, query: str) -> list[tuple[Any, ...]]:
    async def fetch() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(platform.env["MINGDENG_DATABASE_URL"])
        try:
            return [tuple(r) for r in await connection.fetch(query)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_killed_while_a_reminder_is_claimed_under_load_settles_it_and_runs_the_schedule(
    platform_of: Callable[..., Platform], hanging_provider: HangingProvider, tmp_path: Path
) -> None:
    sink = tmp_path / "sms.jsonl"
    limits = {f"MINGDENG_NOTIFY_PER_{w}": "1000" for w in ("MINUTE", "HOUR", "DAY")}
    platform = platform_of(
        MINGDENG_NOTIFY_PROVIDERS='["aliyun"]',
        MINGDENG_ALIYUN_ACCESS_KEY_ID="ak",
        MINGDENG_ALIYUN_ACCESS_KEY_SECRET="secret",
        MINGDENG_ALIYUN_ENDPOINT=hanging_provider.endpoint,
        MINGDENG_ALIYUN_PROTOCOL="http",
        MINGDENG_NOTIFY_SINK_FILE=str(sink),
        MINGDENG_NOTIFY_SCHEDULE_EVERY_S="1",
        **limits,
    )
    now = datetime.now(UTC)
    last_month = month_of(now.astimezone(BUSINESS_TZ).replace(day=1) - timedelta(days=1))
    e = Events(source="/systems/inspection")
    history = [e.branch("b1", "2026-01-01 09:00"), e.department("d1", "b1", "2026-01-01 09:00")]
    history += [
        e.member(f"m{n}", "d1", "2026-01-01 09:00", phone=f"139{n:08d}") for n in range(MEMBERS)
    ]
    history.append(e.violation("v-old", "m0", now - timedelta(days=40)))  # bulletins are due
    history += [e.violation(f"v{n}", f"m{n}", now) for n in range(1, VIOLATIONS + 1)]
    expected = {f"violation_reminder/m{n}/v{n}" for n in range(1, VIOLATIONS + 1)}

    with SteadyTraffic(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS)) as traffic:
        time.sleep(3)  # a backlog of traffic before the notifier starts
        traffic.send(history)
        platform.launch("notify")
        notify = platform.services["notify"]
        assert hanging_provider.held.wait(60), "no reminder was handed to the provider"
        claimed = rows(platform, "SELECT key FROM notify.outbox WHERE status = 'sending'")
        assert len(claimed) == 1 and claimed[0][0] in expected

        assert notify.process is not None
        notify.process.send_signal(signal.SIGKILL)
        notify.process.wait(10)
        published_at_kill = traffic.published
        notify.env["MINGDENG_NOTIFY_PROVIDERS"] = '["sink"]'  # the provider is left behind
        restarted = time.monotonic()
        notify.start(f"http://127.0.0.1:{platform.env['MINGDENG_NOTIFY_HEALTH_PORT']}/healthz")

        wait_for(lambda: claimed[0][0] in sent(sink), 60, "the claimed reminder, settled")
        settled_after_s = time.monotonic() - restarted
        wait_for(lambda: set(sent(sink)) >= expected, 60, "every reminder")
        wait_for(
            lambda: rows(platform, f"SELECT 1 FROM notify.schedule_runs WHERE schedule = "
                                   f"'bulletin' AND period = '{last_month}'"),
            60, "last month's bulletin",
        )  # fmt: skip
        assert traffic.published - published_at_kill > RATE * settled_after_s * 0.8
    assert sent(sink) == dict.fromkeys(expected, 1)
    assert settled_after_s < 60
    print(f"claimed reminder sent {settled_after_s:.1f} s after the restart")
