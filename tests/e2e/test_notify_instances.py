"""Notify as several instances in one group (issue 26 item 4, ADR 0005) under steady load: a
second notifier joins, the first is killed (SIGKILL), a third joins. Every violation's reminder
reaches the SMS sink exactly once, nothing else is sent twice, and the schedule that is due
(last month's bulletin) runs. The default agency is keyed by subject, so its records come
on every partition and reach its holder forwarded (ADR 0005)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mingdeng.contracts.periods import BUSINESS_TZ, month_of
from mingdeng.contracts.topics import EVENTS
from tests.e2e.conftest import Platform
from tests.e2e.test_notify_under_load import SteadyTraffic, rows, sent
from tests.support.builders import Events
from tests.support.processes import Service, free_port, wait_for

pytestmark = pytest.mark.e2e
MEMBERS = 60


def test_notifiers_joining_and_killed_under_load_send_every_reminder_once(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    sink = tmp_path / "sms.jsonl"
    limits = {f"MINGDENG_NOTIFY_PER_{w}": "1000" for w in ("MINUTE", "HOUR", "DAY")}
    platform = platform_of("notify", MINGDENG_KAFKA_INSTANCE="n1", MINGDENG_NOTIFY_SINK_FILE=str(sink),
                           MINGDENG_NOTIFY_SETTLE_AFTER_S="1",
                           MINGDENG_NOTIFY_SCHEDULE_EVERY_S="0.5", **limits)  # fmt: skip
    notifiers = {"n1": platform.services["notify"]}

    def launch(name: str) -> None:
        port = str(free_port())
        env = {
            **platform.env,
            "MINGDENG_NOTIFY_HEALTH_PORT": port,
            "MINGDENG_KAFKA_INSTANCE": name,
        }  # static members of their own names
        notifiers[name] = Service(["mingdeng-notify", "run"], env, tmp_path / f"{name}.log")
        notifiers[name].start(f"http://127.0.0.1:{port}/healthz")

    now = datetime.now(UTC) - timedelta(minutes=1)
    last_month = month_of(now.astimezone(BUSINESS_TZ).replace(day=1) - timedelta(days=1))
    e = Events(source="/systems/inspection")
    registry = [e.branch("b1", "2026-01-01 09:00"), e.department("d1", "b1", "2026-01-01 09:00")]
    registry += [
        e.member(f"m{n}", "d1", "2026-01-01 09:00", phone=f"139{n:08d}") for n in range(MEMBERS)
    ]
    registry.append(e.violation("v-old", "m0", now - timedelta(days=40)))  # bulletins are due
    violations = [e.violation(f"v{n}", f"m{n}", now) for n in range(1, MEMBERS)]
    expected = {f"violation_reminder/m{n}/v{n}" for n in range(1, MEMBERS)}
    try:
        with SteadyTraffic(
            platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS)
        ) as traffic:
            traffic.send(registry + violations[:20])
            launch("n2")  # joins under load
            time.sleep(2)
            traffic.send(violations[20:40])
            process = notifiers.pop("n1").process
            assert process is not None
            process.send_signal(signal.SIGKILL)  # crashes mid-burst
            process.wait(10)
            traffic.send(violations[40:])
            launch("n3")  # joins after the crash
            wait_for(lambda: set(sent(sink)) >= expected, 60, "every reminder")
            wait_for(
                lambda: rows(platform, "SELECT 1 FROM notify.schedule_runs WHERE schedule = "
                                       f"'bulletin' AND period = '{last_month}'"),
                30, "last month's bulletin",
            )  # fmt: skip
            time.sleep(2)  # a second send of anything would be in the sink by now
        for name, notifier in notifiers.items():
            assert notifier.stop() == 0, name
            assert "Traceback" not in notifier.log.read_text(), name
    finally:
        for notifier in notifiers.values():
            notifier.kill_if_running()
    counts = sent(sink)
    assert {key for key, n in counts.items() if n > 1} == set()
    assert set(counts) >= expected
    assert not rows(platform, "SELECT 1 FROM public.forwarded_records")
    assert not rows(platform, "SELECT 1 FROM public.parked_records")
