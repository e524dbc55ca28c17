"""At most once per (rule, recipient, cause) across crashes; schedules once per period."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import pytest

from mingdeng.contracts import events as ev
from mingdeng.notify.adapters.providers import LocalSink, Outgoing
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.service import NotifyService
from mingdeng.runtime.settings import KafkaSettings
from tests.integration.notify.conftest import Clock, publish, take_in
from tests.support.builders import Events, at
from tests.unit.notify.fakes import everything

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """A process dying: nothing after it runs, no handler catches it."""


class CrashingSink(LocalSink):
    """The provider; the process dies before it sends `before`, or right after it sent `after`."""

    def __init__(self, sink: LocalSink, before: set[str], after: set[str]) -> None:
        super().__init__(sink.path)
        self.before, self.after = before, after

    async def send(self, message: Outgoing) -> str:
        if message.key in self.before:
            self.before.discard(message.key)
            raise Crash(message.key)
        provider_id = await super().send(message)
        if message.key in self.after:
            self.after.discard(message.key)
            raise Crash(message.key)
        return provider_id


def bureau(e: Events) -> list:
    return [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00"),
        e.member(
            "S1",
            "d1",
            "2026-06-01 09:00",
            name="李书记",
            roles=("member", "secretary"),
            phone="13900000001",
        ),
        *[
            e.member(f"M{n}", "d1", "2026-06-01 09:00", name=f"党员{n}", phone=f"1390000010{n}")
            for n in range(4)
        ],
        e.member("N1", "d1", "2026-06-01 09:00", name="无号", phone=None),
    ]


async def statuses(pool: asyncpg.Pool) -> dict[str, str]:
    return {
        r["key"]: r["status"] for r in await pool.fetch("SELECT key, status FROM notify.outbox")
    }


async def test_crashes_between_claim_and_send_and_after_send_neither_repeat_nor_lose(
    notify_db: str,
    kafka: KafkaSettings,
    sink: LocalSink,
    make_service: Callable[..., NotifyService],
) -> None:
    e = Events()
    events = bureau(e) + [e.violation(f"v{n}", f"M{n}", "2026-11-24 10:00") for n in range(4)]
    publish(kafka, events)
    clock = Clock(at("2026-11-24 10:05"))
    async with asyncpg.create_pool(notify_db, min_size=1, max_size=4) as pool:
        first = make_service(pool, clock, CrashingSink(sink, before={"violation_reminder/M0/v0"},
                                                       after={"violation_reminder/M1/v1"}))  # fmt: skip
        await take_in(first, pool, kafka, len(events))
        expected = {f"violation_reminder/M{n}/v{n}" for n in range(4)} | {
            f"violation_secretary/S1/v{n}" for n in range(4)
        }
        assert set(await statuses(pool)) == expected

        crashes = 0
        while True:
            try:
                if not await first.dispatcher.dispatch():
                    break
            except Crash:
                crashes += 1
        assert crashes == 2
        left = await statuses(pool)
        assert left["violation_reminder/M0/v0"] == left["violation_reminder/M1/v1"] == "sending"

        # the restart: a new notifier settles what the crash left, then carries on
        clock.now = at("2026-11-24 10:10")
        second = make_service(pool, clock, settle_after=timedelta(0))
        await second.load()
        assert await second.reconciler.reconcile() == 2
        clock.now = at("2026-11-24 10:20")  # past the per-number minute: S1 gets four messages
        for _ in range(10):
            while await second.dispatcher.dispatch():
                pass
            clock.now = clock.now.replace(minute=clock.now.minute + 2)
        sent = Counter(json.loads(line)["key"] for line in sink.path.read_text().splitlines())
        assert sent == dict.fromkeys(expected, 1)  # every message exactly once
        assert set((await statuses(pool)).values()) == {"sent"}
        settled = await pool.fetchval(
            "SELECT reason FROM notify.outbox WHERE key = 'violation_reminder/M1/v1'"
        )
        assert settled == "settled with the provider after a restart"

        # a redelivery of the same events enqueues nothing new
        again = make_service(pool, clock)
        await again.load()
        async with again.stores.transaction() as store:
            await again.intake.evaluate(store, everything(again.known.of(store.agency)))
        assert await pool.fetchval("SELECT count(*) FROM notify.outbox") == len(expected)


async def test_a_schedule_runs_once_per_period_with_two_notifiers(
    notify_db: str, kafka: KafkaSettings, make_service: Callable[..., NotifyService]
) -> None:
    e = Events()
    events = [
        *bureau(e),
        e(ev.MaximSubmitted(maxim_id="x1", author_id="M0", text="廉洁自律。"), "2026-06-01 09:00"),
        e(ev.MaximApproved(maxim_id="x1"), "2026-06-01 10:00"),
        e(ev.MemberPreferencesSet(member_id="M3", daily_maxim=False), "2026-06-01 10:00"),
    ]
    publish(kafka, events)
    clock = Clock(at("2026-11-25 08:00"))
    async with asyncpg.create_pool(notify_db, min_size=2, max_size=8) as pool:
        one, two = make_service(pool, clock), make_service(pool, clock)
        nothing_to_send = await one.schedules.run()  # no approved maxim known yet
        assert not [r for r in nothing_to_send if r.startswith("daily_maxim")]
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM notify.schedule_runs WHERE schedule = 'daily_maxim'"
            )
            == 0
        )
        await take_in(one, pool, kafka, len(events))
        await two.load()
        ran = await asyncio.gather(one.schedules.run(), two.schedules.run())
        assert sorted(r for runs in ran for r in runs if r.startswith("daily_maxim")) == [
            "daily_maxim 2026-11-25"
        ]
        rows = await pool.fetch(
            "SELECT recipient_id, status, reason FROM notify.outbox WHERE rule = 'daily_maxim' ORDER BY recipient_id"
        )
        assert [(r["recipient_id"], r["status"]) for r in rows] == [
            ("M0", "queued"),
            ("M1", "queued"),
            ("M2", "queued"),
            ("N1", "suppressed"),
            ("S1", "queued"),
        ]  # M3 opted out; N1 has no phone
        assert rows[3]["reason"] == "the recipient has no phone number"
        assert await one.schedules.run() == [] and await two.schedules.run() == []


async def test_quiet_hours_and_per_number_limits_in_the_dispatcher(
    notify_db: str,
    kafka: KafkaSettings,
    sink: LocalSink,
    make_service: Callable[..., NotifyService],
) -> None:
    e = Events()
    events = [
        *bureau(e),
        e.violation("v9", "M0", "2026-11-24 23:10"),
        e.violation("v8", "M0", "2026-11-24 23:11"),
    ]
    publish(kafka, events)
    clock = Clock(at("2026-11-24 23:12"))
    async with asyncpg.create_pool(notify_db, min_size=1, max_size=4) as pool:
        service = make_service(pool, clock)
        await take_in(service, pool, kafka, len(events))
        async with service.stores.transaction() as store:
            await service.outbox.enqueue(
                store, Message("daily_maxim", "M0", "2026-11-24", {"name": "x", "maxim": "y"})
            )
        quiet = await pool.fetchval(
            "SELECT not_before FROM notify.outbox WHERE rule = 'daily_maxim'"
        )
        assert quiet == at("2026-11-25 07:00")  # held through the night
        while await service.dispatcher.dispatch():
            pass
        rows = {r["key"]: r for r in await pool.fetch("SELECT * FROM notify.outbox")}
        # violation reminders are urgent: sent at night. M0 got one; the second waits a minute.
        sent_to_m0 = [
            k for k, r in rows.items() if r["recipient_id"] == "M0" and r["status"] == "sent"
        ]
        assert len(sent_to_m0) == 1
        waiting = rows[
            "violation_reminder/M0/v8"
            if sent_to_m0 == ["violation_reminder/M0/v9"]
            else "violation_reminder/M0/v9"
        ]
        assert (waiting["status"], waiting["reason"]) == ("queued", "per-number limit")
        assert waiting["not_before"] == rows[sent_to_m0[0]]["sent_at"] + __import__(
            "datetime"
        ).timedelta(minutes=1)
        assert rows["daily_maxim/M0/2026-11-24"]["status"] == "queued"
        assert isinstance(rows["daily_maxim/M0/2026-11-24"]["not_before"], datetime)
