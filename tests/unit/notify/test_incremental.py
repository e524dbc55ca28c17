"""The notifier evaluates what each batch affected (issue 21): on random histories that move
members, secretaries and departments about, the messages and tasks equal those of evaluating
every rule on everything after every batch; a month's bulletin equals counting the whole
history; and the work of one event does not grow with the history or the organisation."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import QuarterSelection, RankingSizes, SelectedMember
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import month_of
from mingdeng.contracts.registry import Registry
from mingdeng.contracts.topics import EVENTS, SELECTIONS
from mingdeng.notify.domain import rules
from mingdeng.notify.domain.state import Affected, NotifyState
from mingdeng.notify.intake import Intake
from mingdeng.notify.store import NotifyStore
from mingdeng.runtime.projection import Record
from tests.support.builders import Events, at
from tests.unit.notify.fakes import FakeStore, FakeStores, everything
from tests.unit.notify.test_service import Clock, Notifier

MEMBERS = ["M1", "M2", "M3", "M4", "M5", "M6"]
DEPARTMENTS = ["d1", "d2", "d3"]
BRANCHES = ["b1", "b2"]
ROLES: list[tuple[ev.Role, ...]] = [
    ("member",),
    ("member", "secretary"),
    ("member", "leader"),
    ("member", "leader", "secretary"),
]
DAYS = st.integers(min_value=15, max_value=25)  # November 2026, around the clock's days
HOURS = st.integers(min_value=0, max_value=23)
START = "2026-11-20 10:00"


class Recomputing(Intake):
    """The intake as it was before issue 21: every rule on everything known, every batch."""

    async def evaluate(self, store: NotifyStore, affected: Affected) -> None:
        await super().evaluate(store, everything(self.known.of(store.agency)))


def selection(exemplars: Sequence[str]) -> QuarterSelection:
    return QuarterSelection(
        quarter="2026Q3",
        status="final",
        rules_version="2026.1",
        excellent_departments=[],
        ranked=RankingSizes(member=len(exemplars), department=0, branch=0),
        exemplars=[
            SelectedMember(rank=n, member_id=m, name=m, department_id="d1", index=90.0 - n)
            for n, m in enumerate(exemplars, 1)
        ],
    )


def registry(e: Events) -> list[Event[EventData]]:
    events = [e.department(d, BRANCHES[n % 2], "2026-06-01 09:00", leader=MEMBERS[n])
              for n, d in enumerate(DEPARTMENTS)]  # fmt: skip
    events += [
        e.member(m, DEPARTMENTS[n % 3], "2026-06-01 09:00", roles=ROLES[n % 4], phone=f"1390000{n}")
        for n, m in enumerate(MEMBERS)
    ]
    return events


@st.composite
def happening(draw: Any, e: Events) -> Record:
    """One record of any kind the rules read, the registry's changes among them."""
    when = f"2026-11-{draw(DAYS):02d} {draw(HOURS):02d}:00"
    member = draw(st.sampled_from(MEMBERS))
    kind = draw(
        st.sampled_from(
            ["violation", "violation", "retract", "talk", "move", "leave", "department",
             "commendation", "selection", "household", "lecture", "appeal", "report"]
        )
    )  # fmt: skip
    data: EventData
    match kind:
        case "violation":
            data = ev.ViolationLogged(
                violation_id=f"v{draw(st.integers(0, 7))}", member_id=member,
                rule=draw(st.integers(1, 10)), description="上班时间离岗", inspector_id="i1",
            )  # fmt: skip
        case "retract":
            data = ev.ViolationRetracted(violation_id=f"v{draw(st.integers(0, 7))}", reason="申诉")
        case "talk":
            data = ev.TalkHeld(talk_id=f"t{draw(st.integers(0, 3))}", host_id="M2",
                               member_id=member, category="member")  # fmt: skip
        case "move":
            data = ev.MemberRegistered(
                member_id=member, name=f"成员{member}{draw(st.integers(0, 2))}",
                department_id=draw(st.sampled_from(DEPARTMENTS)), roles=draw(st.sampled_from(ROLES)),
                phone=draw(st.sampled_from([None, "13900000009"])), party_member=True,
            )  # fmt: skip
        case "leave":
            data = ev.MemberLeft(member_id=member)
        case "department":
            data = ev.DepartmentRegistered(
                department_id=draw(st.sampled_from(DEPARTMENTS)), name="科室",
                branch_id=draw(st.sampled_from(BRANCHES)), leader_id=member,
            )  # fmt: skip
        case "commendation":
            data = ev.VisitMade(visit_id=f"c{draw(st.integers(0, 3))}", member_id="M2",
                                kind="commendation", target_member_id=member)  # fmt: skip
        case "selection":
            chosen = draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True))
            return Record(SELECTIONS.name, 0, 0, b"2026Q3", selection(chosen).to_json(), 0)
        case "appeal":
            decision = draw(st.sampled_from([ev.AppealUpheld, ev.AppealRejected]))
            data = decision(appeal_id=f"a{draw(st.integers(0, 3))}",
                            violation_id=f"v{draw(st.integers(0, 7))}", member_id=member,
                            reason="经核实")  # fmt: skip
        case "report":
            report_id = f"r{draw(st.integers(0, 3))}"
            if draw(st.booleans()):
                data = ev.ReportSubmitted(report_id=report_id, member_id=member,
                                          kind="volunteer", happened_on="2026-11-18",
                                          title="社区清扫", minutes=90)  # fmt: skip
            else:
                data = ev.ReportRejected(report_id=report_id, member_id=member,
                                         kind="volunteer", reason="时长有误")  # fmt: skip
        case "household":
            data = ev.VisitMade(visit_id=f"h{draw(st.integers(0, 3))}", member_id=member,
                                kind="household", household_id="h1")  # fmt: skip
        case _:
            data = ev.LectureDelivered(lecture_id=f"L{draw(st.integers(0, 2))}", speaker_id=member)
    return as_record(e(data, when))


def as_record(event: Event[EventData]) -> Record:
    return Record(EVENTS.name, 0, 0, event.subject.encode(), serialize_event(event), 0)


@st.composite
def batches(draw: Any) -> list[list[Record]]:
    """The registry, the close of 2026Q3 (selections come after it, as scoring publishes them),
    then random records in random batches."""
    e = Events()
    records = [as_record(x) for x in [*registry(e), e.close("2026Q3", "2026-10-11 00:00")]]
    records += draw(st.lists(happening(e), max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(records)), max_size=8)))
    return [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]


def outcome(notifier: Notifier) -> tuple[dict[str, Any], dict[str, Any]]:
    tables = notifier.stores.tables
    outbox = {
        key: (row.status, row.reason, row.message.phone, row.message.text, row.not_before)
        for key, row in tables.outbox.items()
    }
    return outbox, dict(tables.tasks)


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(batches(), st.lists(st.integers(0, 36 * 60), min_size=10, max_size=10))
def test_evaluating_what_each_batch_affected_equals_evaluating_everything(
    batches: list[list[Record]], minutes_between: list[int]
) -> None:
    asyncio.run(compare_with_recomputing(batches, minutes_between))


async def compare_with_recomputing(batches: list[list[Record]], minutes_between: list[int]) -> None:
    clock = Clock(START)
    incremental, recomputing = Notifier(clock), Notifier(clock)
    service = recomputing.service
    service.intake = Recomputing(service.known, service.outbox, clock)
    for batch, minutes in zip(batches, minutes_between, strict=False):
        clock.now += timedelta(minutes=minutes)
        for notifier in (incremental, recomputing):
            await notifier.take(batch)
        assert outcome(incremental) == outcome(recomputing)


@PROPERTY_SETTINGS
@given(batches())
def test_a_months_bulletin_and_who_is_who_equal_counting_the_whole_history(
    batches: list[list[Record]],
) -> None:
    notifier = Notifier(Clock(START))

    async def take_all() -> None:
        for batch in batches:
            await notifier.take(batch)

    asyncio.run(take_all())
    state = notifier.service.known.of(DEFAULT_AGENCY).state
    for month in ("2026-10", "2026-11", "2026-12"):
        document = rules.bulletin(state, month, at(START))
        lectures = {lecture for lecture, t in state.deliveries.items() if month_of(t) == month}
        assert (
            document.violations,
            document.retractions,
            document.lectures,
            document.attendances,
            document.household_visits,
        ) == (
            sum(1 for v in state.violations.values() if month_of(v.at) == month),
            sum(1 for t in state.retractions.values() if month_of(t) == month),
            len(lectures),
            sum(1 for (lecture, _) in state.attendances if lecture in lectures),
            sum(1 for t in state.household_visits.values() if month_of(t) == month),
        )
        everyone = state.active()
        assert [r.member_id for r in state.active_office_holders()] == [
            r.member_id for r in everyone if {"leader", "secretary"} & set(r.roles)
        ]
        for member in everyone:
            branch = state.branch_of(member.member_id)
            assert state.secretaries_of(member.member_id) == [
                r
                for r in everyone
                if "secretary" in r.roles and state.branch_of(r.member_id) == branch
            ]


# --- the work of one event does not grow with the history or the organisation ---------------


class CountingStore(FakeStore):
    """Counts the store's operations."""

    calls: ClassVar[Counter[str]] = Counter()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in ("t", "tables", "agency", "now", "calls"):
            CountingStore.calls[name] += 1
        return super().__getattribute__(name)


class CountingRegistry(Registry):
    """Counts the members the rules look at."""

    looked_at = 0

    def is_active(self, member_id: str) -> bool:
        CountingRegistry.looked_at += 1
        return super().is_active(member_id)


async def work_of_one_more(members: int, violations: int) -> tuple[dict[str, int], int]:
    """Store operations and members looked at to take one violation, and one talk, in an
    organisation of `members` (departments of ten with a secretary each, three to a branch)
    with `violations` of others
    before. (A talk looks again at the violations of its member: those are what it changes.)"""
    e = Events()
    notifier = Notifier(Clock(START))
    notifier.service.known.of(DEFAULT_AGENCY).state = NotifyState(registry=CountingRegistry())
    history = [
        e.department(f"d{n}", f"b{n // 3}", "2026-06-01 09:00") for n in range(members // 10)
    ]
    history += [
        e.member(f"m{n}", f"d{n // 10}", "2026-06-01 09:00",
                 roles=("member", "secretary") if n % 10 == 0 else ("member",))
        for n in range(members)
    ]  # fmt: skip
    history += [
        e.violation(f"old{n}", f"m{n % 5}", at("2026-01-01 00:00") + timedelta(hours=n))
        for n in range(violations)
    ]
    await notifier.take([as_record(x) for x in history])
    CountingStore.calls.clear()
    CountingRegistry.looked_at = 0
    store = CountingStore(notifier.stores.tables, notifier.clock())
    talk = ev.TalkHeld(talk_id="t-new", host_id="m0", member_id="m5", category="member")
    await notifier.service.intake.handle(
        store,
        [as_record(e.violation("v-new", "m5", START)), as_record(e(talk, "2026-11-20 11:00"))],
    )
    return dict(CountingStore.calls), CountingRegistry.looked_at


class CountingStores(FakeStores):
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeStore]:
        async with super().transaction() as store:
            yield CountingStore(store.tables, store.now)


async def test_the_work_of_an_event_does_not_grow_with_history_or_the_organisation() -> None:
    small = await work_of_one_more(members=30, violations=10)
    assert (small[0]["enqueue"], small[0]["save_task"]) == (4, 1)  # member, 3 secretaries; task
    assert await work_of_one_more(members=30, violations=1_000) == small
    assert await work_of_one_more(members=600, violations=1_000) == small


async def test_a_schedule_reads_only_what_is_due_and_asks_once_per_period() -> None:
    clock = Clock("2026-12-01 09:00")
    notifier = Notifier(clock, CountingStores(clock))
    e = Events()
    await notifier.take_events(
        [*registry(e), *(e.violation(f"v{n}", "M1", "2026-11-01 10:00") for n in range(50))]
    )
    CountingStore.calls.clear()
    assert await notifier.service.schedules.run() == ["bulletin 2026-11"]
    assert await notifier.service.schedules.run() == []
    assert "tasks" not in CountingStore.calls  # not every task: the open commendations
    assert CountingStore.calls["open_commendations"] == 2
    assert CountingStore.calls["claim_period"] == 1  # a period known to have run: not asked
