"""The 机关工委's view in PostgreSQL (issue 25, item 5): two agencies with the same member ids
through the real projector, whatever agency it serves; figures equal a count from scratch
whatever the order and the batches; the rankings page by keyset."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.derived import IndexScore, Task
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.topics import EVENTS, SCORES, TASKS
from mingdeng.gateway.adapters import committee
from mingdeng.gateway.adapters.projector import Projector, forget_projections
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings(bootstrap_servers="unused:9092")
QUARTER = "2026Q3"
AT = datetime(2026, 8, 3, 10, tzinfo=BUSINESS_TZ)
RECEIVED_MS = int(datetime(2026, 8, 20, 9, tzinfo=UTC).timestamp() * 1000)


def inbound(agency: str, data: EventData, n: int, at: datetime = AT) -> Record:
    event: Event[EventData] = new_event(
        data, source=f"/agencies/{agency}/hr", time=at, event_id=f"{agency}-{n}", agency=agency
    )
    return Record(KAFKA.topic(EVENTS), 0, n, event.partition_key.encode(),
                  serialize_event(event), RECEIVED_MS + n)  # fmt: skip


def score(agency: str, level: str, subject: str, index: float | None, n: int) -> Record:
    key = agency_key(agency, f"{QUARTER}/{level}/{subject}")
    value = None
    if index is not None:
        value = IndexScore(quarter=QUARTER, level=level, id=subject, name=f"{subject}支部",  # type: ignore[arg-type]
                           index=round(index, 2), index_exact=index, components={}, details={},
                           status="provisional", rules_version="1").to_json()  # fmt: skip
    return Record(KAFKA.topic(SCORES), 0, n, key, value, 0, agency_headers(agency))


def task(agency: str, task_id: str, status: str, due: datetime, n: int) -> Record:
    body = Task(task_id=task_id, kind="talk", assignee_id="m001", member_id="m002", cause="v",
                status=status, due=due, created_at=AT).to_json()  # type: ignore[arg-type]  # fmt: skip
    return Record(KAFKA.topic(TASKS), 0, n, agency_key(agency, task_id), body, 0,
                  agency_headers(agency))  # fmt: skip


def tree(committee_id: str = "jggw") -> list[Record]:
    return [
        inbound("jggw", ev.AgencyRegistered(agency_id="jggw", name="市直机关工委",
                                            committee_id=committee_id), 900),
        inbound("default", ev.AgencyRegistered(agency_id="default", name="市财政局",
                                               committee_id=committee_id), 901),
        inbound("shuiwu", ev.AgencyRegistered(agency_id="shuiwu", name="市税务局",
                                              committee_id=committee_id), 902),
    ]  # fmt: skip


def history() -> list[Record]:
    """The same ids m001…m003, b1, b2 in the bureau (`default`) and 市税务局 (`shuiwu`)."""
    records: list[Record] = []
    n = iter(range(1, 10_000))
    for agency, members in (("default", 3), ("shuiwu", 2)):
        for m in range(1, members + 1):
            records.append(inbound(agency, ev.MemberRegistered(
                member_id=f"m00{m}", name="甲", department_id="d1", roles=("member",),
                party_member=True), next(n)))  # fmt: skip
    records.append(inbound("default", ev.MemberLeft(member_id="m003"), next(n), AT + timedelta(1)))
    records.append(inbound("shuiwu", ev.LectureDelivered(lecture_id="L1", speaker_id="m001"),
                           next(n)))  # fmt: skip
    records.append(inbound("shuiwu", ev.LectureDelivered(lecture_id="L1", speaker_id="m001"),
                           next(n), AT - timedelta(days=1)))  # the earliest delivery holds  # fmt: skip
    records.append(inbound("default", ev.LectureDelivered(lecture_id="L1", speaker_id="m001"),
                           next(n)))  # fmt: skip
    # a second 微课堂 of the same 期 (month), and one of the next month: two 期, three 微课堂
    records.append(inbound("shuiwu", ev.LectureDelivered(lecture_id="L2", speaker_id="m002"),
                           next(n), AT - timedelta(days=1, hours=2)))  # fmt: skip
    records.append(inbound("shuiwu", ev.LectureDelivered(lecture_id="L3", speaker_id="m002"),
                           next(n), AT + timedelta(days=35)))  # fmt: skip
    for v in ("v1", "v2"):
        records.append(inbound("shuiwu", ev.ViolationLogged(
            violation_id=v, member_id="m001", rule=1, description="x", inspector_id="m002"),
            next(n)))  # fmt: skip
    records.append(inbound("shuiwu", ev.ViolationRetracted(violation_id="v2", reason="申诉成立"),
                           next(n)))  # fmt: skip
    records.append(inbound("default", ev.ViolationRetracted(violation_id="v1", reason="先到"),
                           next(n)))  # a retraction before its violation  # fmt: skip
    records.append(inbound("default", ev.ViolationLogged(
        violation_id="v1", member_id="m001", rule=1, description="x", inspector_id="m002"),
        next(n)))  # fmt: skip
    for agency, member, index in (("default", "m001", 80.0), ("default", "m002", 70.0),
                                  ("shuiwu", "m001", 90.0), ("shuiwu", "m001", 95.5),
                                  ("default", "m003", 10.0), ("default", "m003", None)):  # fmt: skip
        records.append(score(agency, "member", member, index, next(n)))
    for agency, branch, index in (("default", "b1", 82.0), ("default", "b2", 78.0),
                                  ("shuiwu", "b1", 79.0), ("shuiwu", "b2", 60.0),
                                  ("shuiwu", "b2", 81.0)):  # fmt: skip
        records.append(score(agency, "branch", branch, index, next(n)))
    due = datetime(2026, 8, 10, tzinfo=UTC)
    records.append(task("shuiwu", "t1", "open", due, next(n)))
    records.append(task("shuiwu", "t2", "open", due + timedelta(days=30), next(n)))
    records.append(task("default", "t1", "done", due, next(n)))
    return records


async def project(connection: asyncpg.Connection, batches: Sequence[Sequence[Record]]) -> None:
    for batch in batches:
        async with connection.transaction():
            await Projector(KAFKA).handle(connection, batch)


async def test_two_agencies_with_the_same_ids_stay_apart_in_any_batches(
    gateway_connection: asyncpg.Connection,
) -> None:
    connection = gateway_connection
    records = tree() + history()
    rng = random.Random(25)
    cut = sorted(rng.sample(range(1, len(records)), 6))
    batches = [records[a:b] for a, b in zip([0, *cut], [*cut, len(records)], strict=True)]
    await project(connection, batches)
    now = datetime(2026, 8, 20, tzinfo=UTC)
    page = await committee.agencies(connection, "jggw", QUARTER, now)
    by_id = {a.agency_id: a for a in page.items}
    assert [a.agency_id for a in page.items] == ["default", "shuiwu", "jggw"]
    bureau, tax = by_id["default"], by_id["shuiwu"]
    assert (bureau.members, tax.members) == (2, 2)
    assert (bureau.vanguard_mean, tax.vanguard_mean) == (75.0, 95.5)
    assert (bureau.fortress_mean, tax.fortress_mean) == (80.0, 80.0)
    assert (bureau.lectures, tax.lectures) == (1, 2)  # 期: months with a 微课堂
    assert (bureau.micro_lectures, tax.micro_lectures) == (1, 3)
    assert (bureau.violations, tax.violations) == (0, 1)
    assert (bureau.open_tasks, bureau.overdue_tasks) == (0, 0)
    assert (tax.open_tasks, tax.overdue_tasks) == (2, 1)
    assert tax.last_event_at is not None and bureau.last_event_at is not None
    assert (bureau.rank, tax.rank, by_id["jggw"].rank) == (1, 1, None)  # tied, no coverage
    branches = await committee.branches(connection, "jggw", QUARTER)
    assert [(b.agency_id, b.branch_id, b.rank) for b in branches.items] == [
        ("default", "b1", 1), ("shuiwu", "b2", 2), ("shuiwu", "b1", 3), ("default", "b2", 4)
    ]  # fmt: skip

    # the same records once more (a redelivery) change nothing; a rebuild gives the same
    await project(connection, [records])
    assert (await committee.agencies(connection, "jggw", QUARTER, now)) == page
    await forget_projections(connection, "test")
    assert await connection.fetchval("SELECT count(*) FROM committee.members") == 0
    await project(connection, [list(reversed(records[3:])) + records[:3]])
    again = await committee.agencies(connection, "jggw", QUARTER, now)
    assert [(a.agency_id, a.members, a.violations) for a in again.items] == [
        (a.agency_id, a.members, a.violations) for a in page.items
    ]


async def test_the_rankings_page_by_keyset(gateway_connection: asyncpg.Connection) -> None:
    connection = gateway_connection
    records = tree()
    n = 1000
    for agency in ("default", "shuiwu"):
        for b in range(1, 8):
            n += 1
            records.append(score(agency, "branch", f"b{b}", 70.0 + (b % 3), n))
    await project(connection, [records])
    whole = await committee.branches(connection, "jggw", QUARTER, limit=100)
    assert whole.total == 14 and whole.next_key is None
    seen, key = [], None
    while True:
        page = await committee.branches(connection, "jggw", QUARTER, key, limit=4)
        seen += page.items
        if page.next_key is None:
            break
        key = page.next_key
    assert seen == whole.items
    assert [b.rank for b in whole.items][:6] == [1, 1, 1, 1, 5, 5]  # ties share the rank
    agencies, key = [], None
    while True:
        found = await committee.agencies(connection, "jggw", QUARTER, AT, key, limit=1)
        agencies += [a.agency_id for a in found.items]
        if found.next_key is None:
            break
        key = found.next_key
    assert agencies == ["default", "shuiwu", "jggw"]
