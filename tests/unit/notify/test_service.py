"""The notifier's parts against the store in memory and a recording provider: intake, tasks,
schedules, dispatch and reconciliation, value by value, with a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import get_args

import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import EventRef, QuarterSelection, RankingSizes, SelectedMember
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import PAYLOAD_TYPES, EventData
from mingdeng.contracts.topics import ALL_TOPICS, EVENTS, SELECTIONS, Topic
from mingdeng.notify.adapters.providers import ProviderChain, ProviderError
from mingdeng.notify.adapters.templates import load_templates
from mingdeng.notify.domain.delivery import Limit
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.domain.state import READS, VISIT_KINDS, NotifyState
from mingdeng.notify.intake import TAKERS
from mingdeng.notify.service import NotifyService
from mingdeng.notify.store import Status
from mingdeng.runtime.projection import Record
from tests.support.builders import Events, at
from tests.support.samples import SAMPLE_DATA
from tests.unit.notify.fakes import FakeProvider, FakeStores

LIMITS = [
    Limit(timedelta(minutes=1), 1),
    Limit(timedelta(hours=1), 5),
    Limit(timedelta(days=1), 10),
]
PHONES = {"M1": "13900000101", "M2": "13900000102", "S1": "13900000001", "L1": "13900000002"}


class Clock:
    def __init__(self, now: str) -> None:
        self.now = at(now)

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: str) -> None:
        self.now = at(now)


class Notifier:
    """One notifier on a store in memory (two share the store when given the same one)."""

    def __init__(
        self,
        clock: Clock,
        stores: FakeStores | None = None,
        provider: FakeProvider | None = None,
        **options: object,
    ) -> None:
        self.clock, self.stores = clock, stores or FakeStores(clock)
        self.provider = provider or FakeProvider()
        self.service = NotifyService(
            stores=self.stores, templates=load_templates(),
            providers=ProviderChain([self.provider]), limits=LIMITS, clock=clock,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip

    async def take(self, records: Sequence[Record]) -> None:
        async with self.stores.transaction() as store:
            await self.service.intake.handle(store, records)

    async def take_events(self, events: Sequence[Event[EventData]]) -> None:
        await self.take(
            [record(EVENTS, serialize_event(event), event.subject.encode()) for event in events]
        )

    async def send_all(self) -> None:
        while await self.service.dispatcher.dispatch():
            pass

    async def enqueue(self, *messages: Message) -> None:
        async with self.stores.transaction() as store:
            for message in messages:
                await self.service.outbox.enqueue(store, message)

    def status(self, key: str) -> tuple[Status, str | None]:
        return self.stores.status(key)

    def outbox(self, agency: str = DEFAULT_AGENCY) -> dict[str, Status]:
        rows = self.stores.tables.of(agency).outbox
        return {key: row.status for key, row in sorted(rows.items())}

    def tasks(self, agency: str = DEFAULT_AGENCY) -> dict[str, tuple[str, str]]:
        tasks = self.stores.tables.of(agency).tasks.values()
        return {t.task_id: (t.assignee_id, t.status) for t in tasks}


def record(topic: Topic, value: bytes | None, key: bytes | None = None) -> Record:
    return Record(topic.name, 0, 0, key, value, 0)


def bureau(e: Events) -> list[Event[EventData]]:
    return [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00", leader="L1"),
        e.department("d2", "b1", "2026-06-01 09:00", leader="L2"),
        e.member("M1", "d1", "2026-06-01 09:00", name="王芳", phone=PHONES["M1"]),
        e.member("M2", "d1", "2026-06-01 09:00", name="赵强", phone=PHONES["M2"]),
        e.member("S1", "d2", "2026-06-01 09:00", name="李书记", roles=("member", "secretary"),
                 phone=PHONES["S1"]),
        e.member("L1", "d1", "2026-06-01 09:00", name="张局", roles=("member", "leader"),
                 phone=PHONES["L1"]),
        e.member("L2", "d2", "2026-06-01 09:00", name="刘局", roles=("member", "leader"),
                 phone="13900000003"),
        e.member("N1", "d1", "2026-06-01 09:00", name="无号", phone=None),
    ]  # fmt: skip


def selection(status: str = "final") -> QuarterSelection:
    return QuarterSelection(
        quarter="2026Q3",
        status=status,  # type: ignore[arg-type]
        rules_version="2026.1",
        excellent_departments=[],
        ranked=RankingSizes(member=2, department=0, branch=0),
        exemplars=[
            SelectedMember(rank=1, member_id="M1", name="王芳", department_id="d1", index=98.0),
            SelectedMember(rank=2, member_id="S1", name="李书记", department_id="d2", index=90.0),
        ],
    )


async def test_a_violation_reminds_the_member_and_the_secretary_at_once_even_at_night() -> None:
    e, clock = Events(), Clock("2026-11-24 23:10")
    notifier = Notifier(clock)
    events = [
        *bureau(e),
        e.violation("v1", "M1", "2026-11-24 23:05", rule=4),
        e.violation("v0", "M2", "2026-10-01 10:00"),  # history loaded late
    ]
    await notifier.take_events(events)
    assert notifier.outbox() == {
        "violation_reminder/M1/v1": "queued",
        "violation_reminder/M2/v0": "suppressed",
        "violation_secretary/S1/v0": "suppressed",
        "violation_secretary/S1/v1": "queued",
    }
    assert notifier.status("violation_reminder/M2/v0")[1] == (
        "out of date: relevant until 2026-10-02T10:00:00+08:00"
    )
    reminder = notifier.stores.tables.outbox["violation_reminder/M1/v1"]
    assert (reminder.message.urgent, reminder.not_before) == (True, clock.now)  # not held
    assert reminder.message.text == (
        "【明灯】王芳同志：2026-11-24督查发现您违反“十不准”第4条（上班时间离岗），请立即整改。"
    )
    assert notifier.tasks() == {"talk/v1": ("S1", "open"), "talk/v0": ("S1", "open")}
    assert notifier.stores.tables.tasks["talk/v1"].due == at("2026-12-01 23:05")

    await notifier.send_all()
    assert [(m.key, m.phone) for m in notifier.provider.sent] == [
        ("violation_reminder/M1/v1", PHONES["M1"]),
        ("violation_secretary/S1/v1", PHONES["S1"]),
    ]
    row = notifier.stores.tables.outbox["violation_secretary/S1/v1"]
    assert (row.status, row.provider, row.provider_message_id, row.sent_at) == (
        "sent",
        "fake",
        "fake:2",
        clock.now,
    )

    await notifier.take_events(events)  # a redelivery: nothing new, nothing sent again
    await notifier.send_all()
    assert len(notifier.outbox()) == 4 and len(notifier.provider.sent) == 2


async def test_the_talk_task_is_done_by_a_talk_after_the_violation_and_cancelled_by_a_retraction() -> (
    None
):
    e, clock = Events(), Clock("2026-11-21 10:00")
    notifier = Notifier(clock)
    earlier = ev.TalkHeld(talk_id="t0", host_id="S1", member_id="M1", category="member")
    await notifier.take_events(
        [
            *bureau(e),
            e(earlier, "2026-11-19 10:00"),  # before the violation: does not do it
            e.violation("v1", "M1", "2026-11-20 10:00"),
            e.violation("v2", "M2", "2026-11-20 11:00"),
        ]
    )
    assert notifier.tasks() == {"talk/v1": ("S1", "open"), "talk/v2": ("S1", "open")}

    talk = e(
        ev.TalkHeld(talk_id="t1", host_id="S1", member_id="M1", category="member"),
        "2026-11-22 10:00",
    )
    await notifier.take_events([talk])
    done = notifier.stores.tables.tasks["talk/v1"]
    assert (done.status, done.done_at, done.done_by_event) == (
        "done",
        at("2026-11-22 10:00"),
        EventRef(source=talk.source, id=talk.id),
    )

    await notifier.take_events([e.retraction("v2", "2026-11-23 10:00")])
    assert notifier.tasks() == {"talk/v1": ("S1", "done"), "talk/v2": ("S1", "cancelled")}

    # the violation of the branch's only secretary: reminded, but no one to hold the talk
    await notifier.take_events([e.violation("v3", "S1", "2026-11-21 09:00")])
    assert "violation_reminder/S1/v3" in notifier.outbox() and "talk/v3" not in notifier.tasks()


async def test_a_final_selection_gives_each_exemplar_a_commendation_task_for_their_leader() -> None:
    e, clock = Events(), Clock("2026-10-11 00:05")
    notifier = Notifier(clock)
    await notifier.take_events([*bureau(e), e.close("2026Q3", "2026-10-11 00:00")])
    await notifier.take([record(SELECTIONS, selection("provisional").to_json())])
    assert notifier.tasks() == {} and notifier.outbox() == {}

    await notifier.take([record(SELECTIONS, selection().to_json()), record(SELECTIONS, None)])
    assert notifier.tasks() == {
        "commendation/2026Q3/M1": ("L1", "open"),
        "commendation/2026Q3/S1": ("L2", "open"),
    }
    assert notifier.stores.tables.tasks["commendation/2026Q3/S1"].due == at("2026-10-25 00:00")
    assert notifier.outbox() == {
        "commendation_assigned/L1/commendation/2026Q3/M1": "queued",
        "commendation_assigned/L2/commendation/2026Q3/S1": "queued",
    }
    assigned = notifier.stores.tables.outbox["commendation_assigned/L1/commendation/2026Q3/M1"]
    assert assigned.not_before == at("2026-10-11 07:00")  # not urgent: after the quiet hours

    visit = ev.VisitMade(visit_id="cv", member_id="L1", kind="commendation", target_member_id="M1")
    await notifier.take_events([e(visit, "2026-10-15 10:00")])
    assert notifier.tasks()["commendation/2026Q3/M1"] == ("L1", "done")
    clock.set("2026-10-15 10:05")  # a task done before its message went out: no longer news
    while await notifier.service.dispatcher.dispatch():
        pass
    assert notifier.stores.status("commendation_assigned/L1/commendation/2026Q3/M1") == (
        "suppressed",
        "the task is done already",
    )
    assert notifier.stores.status("commendation_assigned/L2/commendation/2026Q3/S1")[0] == "sent"

    clock.set("2026-10-26 10:00")
    await notifier.service.schedules.run()
    await notifier.service.schedules.run()
    overdue = [key for key in notifier.outbox() if key.startswith("commendation_overdue")]
    assert overdue == ["commendation_overdue/L2/commendation/2026Q3/S1"]


async def test_the_daily_maxim_and_the_monthly_bulletin_run_once_per_period() -> None:
    e, clock = Events(), Clock("2026-12-01 07:59")
    one = Notifier(clock)
    two = Notifier(clock, one.stores)  # a second notifier on the same store
    await one.take_events(
        [
            *bureau(e),
            e(ev.MaximSubmitted(maxim_id="x1", author_id="M1", text="廉洁自律。"), "2026-06-01 09:00"),
            e(ev.MaximSubmitted(maxim_id="x2", author_id="M1", text="守住底线。"), "2026-06-01 09:00"),
            e(ev.MaximApproved(maxim_id="x1"), "2026-06-02 09:00"),
            e(ev.MaximApproved(maxim_id="x2"), "2026-06-02 09:00"),
            e(ev.MemberPreferencesSet(member_id="L2", daily_maxim=False), "2026-06-02 09:00"),
            e.violation("v1", "M1", "2026-11-05 10:00"),
        ]
    )  # fmt: skip
    await two.service.load()

    async def both() -> list[str]:
        ran = await asyncio.gather(one.service.schedules.run(), two.service.schedules.run())
        return sorted(r for runs in ran for r in runs)

    assert await both() == []  # before 08:00, and before the bulletin's 09:00 on the 1st
    clock.set("2026-12-01 08:30")
    assert await both() == ["daily_maxim 2026-12-01"]
    maxims = {k: s for k, s in one.outbox().items() if k.startswith("daily_maxim")}
    assert maxims == {
        "daily_maxim/L1/2026-12-01": "queued",
        "daily_maxim/M1/2026-12-01": "queued",
        "daily_maxim/M2/2026-12-01": "queued",
        "daily_maxim/N1/2026-12-01": "suppressed",  # no phone
        "daily_maxim/S1/2026-12-01": "queued",
    }  # L2 opted out
    assert one.stores.tables.outbox["daily_maxim/M1/2026-12-01"].message.params["maxim"] == (
        "廉洁自律。"
    )
    clock.set("2026-12-01 09:00")
    assert await both() == ["bulletin 2026-11"]
    assert await both() == []
    document = one.stores.tables.bulletins["2026-11"]
    assert (document.violations, document.violations_by_department) == (1, {"科室d1": 1})
    summaries = sorted(k for k in one.outbox() if k.startswith("bulletin"))
    assert summaries == ["bulletin/L1/2026-11", "bulletin/L2/2026-11", "bulletin/S1/2026-11"]

    clock.set("2026-12-02 08:00")
    assert await both() == ["daily_maxim 2026-12-02"]  # the other maxim: least recently sent
    assert one.stores.tables.outbox["daily_maxim/M1/2026-12-02"].message.params["maxim"] == (
        "守住底线。"
    )
    clock.set("2026-12-02 22:00")
    assert await both() == []


async def test_history_loaded_late_gets_a_bulletin_for_every_month_its_sms_suppressed() -> None:
    e, clock = Events(), Clock("2026-12-03 10:00")
    one = Notifier(clock)
    two = Notifier(clock, one.stores)
    await one.take_events(
        [
            *bureau(e),
            e.violation("v1", "M1", "2026-08-20 10:00"),
            e.community_visit("M2", "2026-10-05 10:00"),
            e.violation("v2", "M2", "2026-11-05 10:00"),
        ]
    )
    await two.service.load()

    async def both() -> list[str]:
        ran = await asyncio.gather(one.service.schedules.run(), two.service.schedules.run())
        return sorted(r for runs in ran for r in runs if r.startswith("bulletin"))

    assert await both() == [
        "bulletin 2026-08",
        "bulletin 2026-09",
        "bulletin 2026-10",
        "bulletin 2026-11",
    ]
    assert await both() == []
    bulletins = one.stores.tables.bulletins
    assert {m: (d.violations, d.community_visits) for m, d in bulletins.items()} == {
        "2026-08": (1, 0),
        "2026-09": (0, 0),  # a month without activity in between gets its bulletin too
        "2026-10": (0, 1),
        "2026-11": (1, 0),
    }
    summaries = {k: s for k, s in one.outbox().items() if k.startswith("bulletin/L1/")}
    assert summaries == {
        "bulletin/L1/2026-08": "suppressed",
        "bulletin/L1/2026-09": "suppressed",
        "bulletin/L1/2026-10": "suppressed",
        "bulletin/L1/2026-11": "queued",  # the previous month's: sent
    }
    assert one.stores.tables.outbox["bulletin/L1/2026-10"].reason == (
        "out of date: relevant until 2026-12-01T00:00:00+08:00"
    )


async def test_dispatch_holds_messages_through_quiet_hours_and_keeps_per_number_limits() -> None:
    e, clock = Events(), Clock("2026-11-24 23:12")
    notifier = Notifier(clock)
    await notifier.take_events(
        [
            *bureau(e),
            e.violation("v9", "M1", "2026-11-24 23:10"),
            e.violation("v8", "M1", "2026-11-24 23:11"),
        ]
    )
    maxim = Message("daily_maxim", "M1", "2026-11-24", {"name": "王芳", "maxim": "廉洁自律。"})
    await notifier.enqueue(maxim)
    assert notifier.stores.tables.outbox[maxim.key].not_before == at("2026-11-25 07:00")

    await notifier.send_all()
    # violation reminders are urgent: sent at night, but one per number a minute
    assert notifier.provider.keys() == ["violation_reminder/M1/v8", "violation_secretary/S1/v8"]
    waiting = notifier.stores.tables.outbox["violation_reminder/M1/v9"]
    assert (waiting.status, waiting.reason, waiting.not_before, waiting.attempts) == (
        "queued",
        "per-number limit",
        at("2026-11-24 23:13"),
        0,  # waiting for a limit is not an attempt
    )
    clock.set("2026-11-24 23:13")
    await notifier.send_all()
    assert notifier.provider.keys()[2:] == ["violation_reminder/M1/v9", "violation_secretary/S1/v9"]
    assert notifier.status(maxim.key) == ("queued", None)

    clock.set("2026-11-25 07:00")
    await notifier.send_all()
    assert notifier.provider.keys()[4:] == [maxim.key]


async def test_provider_errors_retry_with_backoff_wait_as_told_or_fail() -> None:
    clock = Clock("2026-11-24 10:00")
    provider = FakeProvider()
    notifier = Notifier(clock, provider=provider, max_attempts=2)
    await notifier.take_events(bureau(Events()))
    messages = [
        Message("daily_maxim", m, "2026-11-24", {"name": m, "maxim": "廉洁自律。"})
        for m in ("L1", "M1", "M2")
    ]
    provider.fail = {
        messages[0].key: [ProviderError("flow_control", "limit", timedelta(hours=1))],
        messages[1].key: [ProviderError("transient", "timeout")] * 2,
        messages[2].key: [ProviderError("permanent", "bad number")],
    }
    await notifier.enqueue(*messages)
    await notifier.send_all()
    rows = notifier.stores.tables.outbox
    assert [(rows[m.key].status, rows[m.key].not_before) for m in messages] == [
        ("queued", at("2026-11-24 11:00")),
        ("queued", at("2026-11-24 10:00") + timedelta(seconds=30)),
        ("failed", at("2026-11-24 10:00")),
    ]
    assert rows[messages[2].key].reason == "bad number"
    clock.now += timedelta(seconds=30)
    await notifier.send_all()  # the second transient error: the last of two attempts
    assert (rows[messages[1].key].status, rows[messages[1].key].attempts) == ("failed", 2)
    clock.set("2026-11-24 11:00")
    await notifier.send_all()
    assert provider.keys() == [messages[0].key]


class Crash(BaseException):
    """A process dying: nothing after it runs, no handler catches it."""


class CrashingProvider(FakeProvider):
    """Dies before it sends the keys in `before`, or right after it sent those in `after`."""

    def __init__(self, before: set[str], after: set[str]) -> None:
        super().__init__()
        self.before, self.after = before, after

    async def send(self, message):  # type: ignore[no-untyped-def]
        if message.key in self.before:
            self.before.discard(message.key)
            raise Crash(message.key)
        sent = await super().send(message)
        if message.key in self.after:
            self.after.discard(message.key)
            raise Crash(message.key)
        return sent


async def test_reconcile_settles_what_a_crash_left_by_asking_the_provider_never_by_resending() -> (
    None
):
    clock = Clock("2026-11-24 10:00")
    messages = [
        Message("daily_maxim", m, "2026-11-24", {"name": m, "maxim": "廉洁自律。"})
        for m in ("M1", "M2", "L1")
    ]
    unsent, sent, unknown = (m.key for m in messages)
    provider = CrashingProvider(before={unsent, unknown}, after={sent})
    first = Notifier(clock, provider=provider)
    await first.service.load()  # alive at 10:00
    await first.take_events(bureau(Events()))
    await first.enqueue(*messages)
    crashes = 0
    while True:
        try:
            if not await first.service.dispatcher.dispatch():
                break
        except Crash:
            crashes += 1
    assert crashes == 3 and set(first.outbox().values()) == {"sending"}

    # the restart (the first was killed): a new notifier on the same store and provider
    second = Notifier(clock, first.stores, provider, claim_lease=timedelta(seconds=20))
    await second.service.load()
    clock.set("2026-11-24 10:00:15")
    assert await second.service.reconciler.reconcile() == 0  # the first may still be sending
    clock.set("2026-11-24 10:00:21")  # not seen for longer than the lease: gone
    unreachable = ProviderError("transient", "query failed")
    original_find = provider.find

    async def find(message, since):  # type: ignore[no-untyped-def]
        if message.key == unknown:
            raise unreachable
        return await original_find(message, since)

    provider.find = find  # type: ignore[method-assign]
    assert await second.service.reconciler.reconcile() == 3
    assert second.status(sent) == ("sent", "settled with the provider after a restart")
    assert second.status(unsent) == (
        "queued",
        "not sent before a restart; the provider has no record of it",
    )
    assert second.status(unknown) == ("sending", None)  # asked again later, not sent
    await second.send_all()
    assert provider.keys() == [sent, unsent]  # each once
    assert second.status(unknown) == ("sending", None)


async def test_a_claim_is_settled_at_once_when_its_notifier_stopped_else_after_settle_after() -> (
    None
):
    clock = Clock("2026-11-24 10:00")
    provider = CrashingProvider(before=set(), after=set())
    one = Notifier(clock, provider=provider, settle_after=timedelta(seconds=60))
    two = Notifier(clock, one.stores, provider, settle_after=timedelta(seconds=60))
    await one.take_events(bureau(Events()))
    for notifier in (one, two):
        await notifier.service.load()
    mine, theirs = (
        Message("daily_maxim", m, "2026-11-24", {"name": m, "maxim": "廉洁自律。"})
        for m in ("M1", "M2")
    )
    await one.enqueue(theirs)
    provider.before = {theirs.key, mine.key}
    with pytest.raises(Crash):
        await one.service.dispatcher.dispatch()  # one's claim, while it lives
    await two.enqueue(mine)
    with pytest.raises(Crash):
        await two.service.dispatcher.dispatch()  # two's own claim, left 'sending'

    clock.set("2026-11-24 10:00:10")
    await one.service.reconciler.alive()
    assert await two.service.reconciler.reconcile() == 0  # one is alive; its own is recent
    await one.service.reconciler.stopped()
    assert await two.service.reconciler.reconcile() == 1
    assert two.status(theirs.key) == (
        "queued",
        "not sent before a restart; the provider has no record of it",
    )
    assert two.status(mine.key) == ("sending", None)
    clock.set("2026-11-24 10:01:01")
    assert await two.service.reconciler.reconcile() == 1
    assert two.status(mine.key)[0] == "queued"


# --- what the notifier reads: listed once, each with its handler ------------------------------


def test_every_event_type_the_notifier_lists_is_folded_and_no_other() -> None:
    e = Events()
    for payload_type in PAYLOAD_TYPES:
        data = payload_type.model_validate(SAMPLE_DATA[payload_type.event_type])
        read = NotifyState().apply(e(data, "2026-06-01 09:00"))
        assert read == (payload_type in READS), payload_type.event_type


def test_every_visit_kind_is_listed_with_what_the_notifier_keeps_of_it() -> None:
    assert set(VISIT_KINDS) == set(get_args(ev.VisitKind))


def test_the_notifier_takes_every_topic_it_is_named_a_consumer_of() -> None:
    assert set(TAKERS) == {t for t in ALL_TOPICS if "notify" in t.consumers}


@pytest.mark.parametrize("value", [b"not json", b'{"quarter": 1}'])
async def test_an_unreadable_selection_is_raised_for_the_runner_to_park(value: bytes) -> None:
    notifier = Notifier(Clock("2026-10-11 00:05"))
    with pytest.raises(ValueError):
        await notifier.take([record(SELECTIONS, value)])


async def test_a_final_selection_read_before_its_close_waits_for_it_and_history_is_not_news() -> (
    None
):
    """A quarter long past loaded as history: its final selection may be read before its close
    (two topics); the task waits for the close, which dates it, and its leader is not told of a
    delivery due long ago (issue 22)."""
    e, clock = Events(), Clock("2026-12-07 09:00")
    notifier = Notifier(clock)
    await notifier.take_events(bureau(e))
    await notifier.take([record(SELECTIONS, selection().to_json())])
    assert notifier.tasks() == {} and notifier.outbox() == {}

    await notifier.take_events([e.close("2026Q3", "2026-10-11 00:00")])
    assert notifier.stores.tables.tasks["commendation/2026Q3/M1"].due == at("2026-10-25 00:00")
    assert set(notifier.outbox().values()) == {"suppressed"}
