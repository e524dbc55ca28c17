"""A bureau's history as raw CloudEvents, fast enough for a million events: registry first, then
quarter after quarter of lectures, attendance, visits, volunteering, KPIs, the odd violation and
retraction, and each quarter's close 10 days after its end. Deterministic from its seed.

Records are (key, value, is_close) with the value already serialised: the benchmarks publish
them as they are. `tests/unit/test_history.py` checks a sample against the contracts."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mingdeng.contracts.periods import Quarter

SOURCE = "/bench/history"
BEIJING = timedelta(hours=8)


@dataclass(frozen=True)
class HistoryRecord:
    key: bytes
    value: bytes
    is_close: bool = False


@dataclass(frozen=True)
class Bureau:
    members: int = 130
    departments: int = 12
    branches: int = 5
    first_quarter: Quarter = Quarter(2023, 1)  # noqa: RUF009 - immutable
    quarters: int = 8
    activity_per_member_quarter: int = 20  # visits and volunteering, on top of lectures
    seed: int = 7
    close_quarters: bool = True
    # an agency of its own (issue 25): its events carry it, are keyed by it and published from
    # its source, as `as_agency` would make them, without a second pass over each record
    agency: str | None = None


def _cloudevent(
    event_type: str, event_id: str, subject: str, time: datetime, data: dict, agency: str | None
) -> bytes:
    document = {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE if agency is None else f"/agencies/{agency}/history",
        "type": event_type,
        "subject": subject,
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if agency is not None:
        document["agency"] = document["partitionkey"] = agency
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def history(bureau: Bureau) -> Iterator[HistoryRecord]:
    rng = random.Random(bureau.seed)
    counter = iter(range(10**12))

    agency = bureau.agency

    def event(event_type: str, subject: str, time: datetime, data: dict) -> HistoryRecord:
        kind = event_type.split(".")[1]
        is_close = event_type == "mingdeng.quarter.closed.v1"
        event_id = f"{kind}-{next(counter)}"
        if agency is not None and is_close:
            event_id = f"close-{agency}-{data['quarter']}"
        value = _cloudevent(event_type, event_id, subject, time, data, agency)
        return HistoryRecord((subject if agency is None else agency).encode(), value, is_close)

    start = bureau.first_quarter.start - timedelta(days=30)
    branches = [f"b{n:02d}" for n in range(bureau.branches)]
    departments = [f"d{n:03d}" for n in range(bureau.departments)]
    members = [f"m{n:05d}" for n in range(bureau.members)]
    department_of = {m: departments[n % len(departments)] for n, m in enumerate(members)}
    households = {m: [f"h{n:05d}a", f"h{n:05d}b"] for n, m in enumerate(members)}
    for b in branches:
        yield event(
            "mingdeng.branch.registered.v1", b, start, {"branch_id": b, "name": f"第{b}支部"}
        )
    for n, d in enumerate(departments):
        yield event(
            "mingdeng.department.registered.v1",
            d,
            start,
            {
                "department_id": d,
                "name": f"科室{d}",
                "branch_id": branches[n % len(branches)],
                "leader_id": members[n % len(members)],
            },
        )
    for n, m in enumerate(members):
        yield event(
            "mingdeng.member.registered.v1",
            m,
            start,
            {
                "member_id": m,
                "name": f"成员{m}",
                "department_id": department_of[m],
                "phone": f"1380000{n:04d}",
                "roles": ["member"],
                "party_member": n % 7 != 0,
            },
        )
        for h in households[m]:
            yield event(
                "mingdeng.household.registered.v1",
                h,
                start,
                {"household_id": h, "village": "村", "head_name": "户主"},
            )
            yield event(
                "mingdeng.household.paired.v1", h, start, {"household_id": h, "member_id": m}
            )

    speaker = 0
    quarter = bureau.first_quarter
    for _ in range(bureau.quarters):
        q_start, days = quarter.start, (quarter.end - quarter.start).days

        def moment(
            day: int | None = None, _start: datetime = q_start, _days: int = days
        ) -> datetime:
            offset = rng.randrange(_days) if day is None else day
            return (_start + timedelta(days=offset, hours=rng.randrange(9, 18))).astimezone(UTC)

        quarter_events: list[tuple[datetime, HistoryRecord]] = []
        for month in range(3):
            for d in departments:
                lecture = f"L{quarter}-{month}-{d}"
                when = moment(month * 30 + 14)
                staff = [m for m in members if department_of[m] == d]
                if not staff:
                    continue
                speaker_id = staff[speaker % len(staff)]
                speaker += 1
                quarter_events.append(
                    (
                        when,
                        event(
                            "mingdeng.lecture.delivered.v1",
                            lecture,
                            when,
                            {"lecture_id": lecture, "speaker_id": speaker_id},
                        ),
                    )
                )
                for m in staff:
                    if rng.random() < 0.9:
                        quarter_events.append(
                            (
                                when,
                                event(
                                    "mingdeng.lecture.attended.v1",
                                    m,
                                    when,
                                    {"lecture_id": lecture, "member_id": m},
                                ),
                            )
                        )
        for m in members:
            for _ in range(bureau.activity_per_member_quarter):
                when = moment()
                roll = rng.random()
                if roll < 0.5:
                    data = {
                        "visit_id": f"v{next(counter)}",
                        "member_id": m,
                        "kind": "household",
                        "household_id": rng.choice(households[m]),
                    }
                    quarter_events.append((when, event("mingdeng.visit.made.v1", m, when, data)))
                elif roll < 0.9:
                    data = {
                        "activity_id": f"a{next(counter)}",
                        "member_id": m,
                        "minutes": 60 * rng.randrange(1, 5),
                        "title": "志愿服务",
                    }
                    quarter_events.append(
                        (when, event("mingdeng.volunteer.logged.v2", m, when, data))
                    )
                else:
                    data = {"visit_id": f"c{next(counter)}", "member_id": m, "kind": "community"}
                    quarter_events.append((when, event("mingdeng.visit.made.v1", m, when, data)))
            if rng.random() < 0.02:
                when = moment()
                violation = f"x{next(counter)}"
                quarter_events.append(
                    (
                        when,
                        event(
                            "mingdeng.violation.logged.v1",
                            m,
                            when,
                            {
                                "violation_id": violation,
                                "member_id": m,
                                "rule": rng.randrange(1, 11),
                                "description": "上班时间离岗",
                                "inspector_id": "i1",
                            },
                        ),
                    )
                )
                if rng.random() < 0.3:
                    later = when + timedelta(days=2)
                    quarter_events.append(
                        (
                            later,
                            event(
                                "mingdeng.violation.retracted.v1",
                                violation,
                                later,
                                {"violation_id": violation, "reason": "申诉成立"},
                            ),
                        )
                    )
            report = quarter.end + timedelta(days=3)
            quarter_events.append(
                (
                    report,
                    event(
                        "mingdeng.kpi.reported.v1",
                        m,
                        report,
                        {
                            "subject_type": "member",
                            "subject_id": m,
                            "metric": "performance",
                            "period": str(quarter),
                            "value": rng.randrange(60, 100),
                        },
                    ),
                )
            )
        for d in departments:
            report = quarter.end + timedelta(days=4)
            quarter_events.append(
                (
                    report,
                    event(
                        "mingdeng.kpi.reported.v1",
                        d,
                        report,
                        {
                            "subject_type": "department",
                            "subject_id": d,
                            "metric": "business",
                            "period": str(quarter),
                            "value": rng.randrange(60, 100),
                        },
                    ),
                )
            )
        quarter_events.sort(key=lambda pair: pair[0])
        for _, record in quarter_events:
            yield record
        if bureau.close_quarters:
            closing = quarter.end + timedelta(days=10)
            yield event(
                "mingdeng.quarter.closed.v1", str(quarter), closing, {"quarter": str(quarter)}
            )
        quarter = quarter.next()


def events_per_quarter(bureau: Bureau) -> int:
    """About how many events one quarter holds (to size a history)."""
    lectures = 3 * bureau.departments
    return int(
        lectures
        + 0.9 * 3 * bureau.members
        + bureau.members * (bureau.activity_per_member_quarter + 1.03)
        + bureau.departments
        + 1
    )


def as_agency(value: bytes, agency: str) -> bytes:
    document = json.loads(value)
    document["source"] = f"/agencies/{agency}/history"
    document["agency"] = document["partitionkey"] = agency
    if document["type"] == "mingdeng.quarter.closed.v1":
        document["id"] = f"close-{agency}-{document['data']['quarter']}"
    return json.dumps(document, ensure_ascii=False).encode()
