"""The notifier killed (SIGKILL) while it sends, then restarted: the provider has received
every message exactly once."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
MEMBERS = 300


def sent(sink: Path) -> Counter[str]:
    if not sink.exists():
        return Counter()
    return Counter(
        json.loads(line)["key"] for line in sink.read_text().splitlines() if line.strip()
    )


def test_killed_while_sending_then_restarted_sends_each_message_once(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    sink = tmp_path / "sms.jsonl"
    limits = {f"MINGDENG_NOTIFY_PER_{w}": "1000" for w in ("MINUTE", "HOUR", "DAY")}
    platform = platform_of("notify", "gateway", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SETTLE_AFTER_S="1", MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", **limits)  # fmt: skip
    now = datetime.now(UTC) - timedelta(minutes=1)
    e = Events(source="/systems/inspection")
    events = [e.branch("b1", "2026-06-01 09:00"), e.department("d1", "b1", "2026-06-01 09:00")]
    events += [
        e.member(f"m{n:02d}", "d1", "2026-06-01 09:00", name=f"党员{n}", phone=f"139{n:08d}")
        for n in range(MEMBERS)
    ]
    events += [e.violation(f"v{n:02d}", f"m{n:02d}", now) for n in range(MEMBERS)]
    expected = {f"violation_reminder/m{n:02d}/v{n:02d}" for n in range(MEMBERS)}
    notify = platform.services["notify"]
    notify.stop()  # queue everything first, then kill the notifier in the middle of sending
    posted = httpx.post(f"{platform.api}/v1/events", json=[x.to_cloudevent() for x in events],
                        headers=token("admin", "root"), timeout=10)  # fmt: skip
    assert posted.status_code == 202
    health = f"http://127.0.0.1:{platform.env['MINGDENG_NOTIFY_HEALTH_PORT']}/healthz"
    notify.start(health)
    deadline = time.monotonic() + 30
    while sum(sent(sink).values()) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)  # kill once sending is well under way
    assert notify.process is not None
    notify.process.send_signal(signal.SIGKILL)
    notify.process.wait(10)
    before = sent(sink)
    assert 10 <= sum(before.values()) < MEMBERS, "not killed while sending"

    notify.start(health)
    wait_for(lambda: set(sent(sink)) >= expected, 60, "every reminder")
    assert sent(sink) == dict.fromkeys(expected, 1)
