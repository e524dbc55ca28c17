from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter, month_of
from mingdeng.ops.demo import LiveActivity, build_demo, commendation_visits, describe

TODAY = date(2026, 11, 24)


def kinds_of(events: list[ev.EventData]) -> Counter[str]:
    return Counter(type(data).__name__ for data in events)


def test_the_demo_is_deterministic_from_its_seed() -> None:
    first, again = build_demo(7, TODAY), build_demo(7, TODAY)
    assert [serialize_event(e) for e in first.events] == [serialize_event(e) for e in again.events]
    assert [serialize_event(e) for e in build_demo(8, TODAY).events] != [
        serialize_event(e) for e in first.events
    ]


def test_the_demo_bureau_has_the_numbers_of_the_seed() -> None:
    demo = build_demo(2026, TODAY)
    data = [e.data for e in demo.events]
    kinds = kinds_of(data)
    assert kinds["BranchRegistered"] == 5 and kinds["DepartmentRegistered"] == 12
    members = [d for d in data if isinstance(d, ev.MemberRegistered)]
    assert sum(m.party_member for m in members) == 130  # 120多名党员
    assert kinds["HouseholdPaired"] == 2 * len(members)  # 2 households each
    assert kinds["MaximApproved"] > 300  # 格言警句300余条
    assert kinds["SuggestionSubmitted"] == 72 and kinds["WorkplanAdopted"] == 17
    adopted = {d.suggestion_id for d in data if isinstance(d, ev.SuggestionAdopted)}
    assert {d.suggestion_id for d in data if isinstance(d, ev.WorkplanAdopted)} <= adopted
    leaders = {d.leader_id for d in data if isinstance(d, ev.DepartmentRegistered)}
    assert len(leaders) == 7
    assert [e.subject for e in demo.closes] == [
        "2024Q4",
        "2025Q1",
        "2025Q2",
        "2025Q3",
        "2025Q4",
        "2026Q1",
        "2026Q2",
        "2026Q3",
    ]
    revenue = {
        d.period: (d.value, d.unit)
        for d in data
        if isinstance(d, ev.KpiReported) and d.metric == "general_budget_revenue"
    }
    assert revenue == {"2024": (100.17, "亿元"), "2025": (113.32, "亿元")}


def test_a_lecture_hall_every_month_where_every_member_takes_a_turn() -> None:
    demo = build_demo(2026, TODAY)
    delivered = [e for e in demo.events if isinstance(e.data, ev.LectureDelivered)]
    months = sorted({month_of(e.time) for e in delivered})
    assert len(months) == 24 and months[0] == "2024-11" and months[-1] == "2026-10"
    members = {e.data.member_id for e in demo.events if isinstance(e.data, ev.MemberRegistered)}
    assert {e.data.speaker_id for e in delivered} == members  # 人人讲党课
    attended = sum(isinstance(e.data, ev.LectureAttended) for e in demo.events)
    assert 0.5 < attended / (len(delivered) * len(members)) < 0.6


def test_history_looks_like_practice_and_today_has_a_morning() -> None:
    demo = build_demo(2026, TODAY)
    first_day = datetime(2026, 11, 24, tzinfo=BUSINESS_TZ)
    history = [e for e in demo.events if e.time < first_day]
    today = [e for e in demo.events if e.time >= first_day]
    assert {e.time.astimezone(BUSINESS_TZ).date() for e in today} == {TODAY}
    liaison = [e for e in history if isinstance(e.data, ev.VisitMade) and e.data.kind == "liaison"]
    for quarter in map(Quarter.parse, ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]):
        visiting = {e.data.member_id for e in liaison if quarter.contains(e.time)}
        assert visiting == {f"m{n:03d}" for n in range(1, 8)}, quarter  # no leader flagged
    violation = next(e for e in today if isinstance(e.data, ev.ViolationLogged))
    assert violation.data.violation_id == demo.todays_violation == "viol-20261124"
    assert violation.data.member_id not in demo.bureau.secretaries
    assert kinds_of([e.data for e in today]) == {
        "VisitMade": 5,
        "VolunteerLogged": 3,
        "ViolationLogged": 1,
    }


def test_this_morning_is_not_later_than_now() -> None:
    now = datetime(2026, 11, 24, 7, 30, tzinfo=BUSINESS_TZ)
    today = [e for e in build_demo(2026, TODAY, now).events if e.time.date() == TODAY]
    assert max(e.time for e in today) == now - timedelta(minutes=1)
    assert min(e.time for e in today) >= datetime(2026, 11, 24, tzinfo=BUSINESS_TZ)


def test_commendations_delivered_for_past_quarters_and_under_way_for_the_last() -> None:
    demo = build_demo(2026, TODAY)
    closed = {e.subject: e.time for e in demo.closes}
    exemplars = {q: [f"m{n:03d}" for n in range(20, 30)] for q in closed}
    visits = commendation_visits(demo.bureau, exemplars, closed, TODAY, 2026)
    by_quarter = Counter(e.data.notes[:6] for e in visits if isinstance(e.data, ev.VisitMade))
    assert all(by_quarter[q] == 10 for q in closed if q != "2026Q3")
    assert by_quarter["2026Q3"] == 5
    for event in visits:
        data = event.data
        assert isinstance(data, ev.VisitMade) and data.kind == "commendation"
        assert data.target_member_id is not None
        assert data.member_id == demo.bureau.leader_in_line(data.target_member_id)
        quarter = data.visit_id.split("-")[1]
        assert closed[quarter] < event.time < closed[quarter] + timedelta(days=14)


def test_the_live_trickle_is_valid_and_varied() -> None:
    demo = build_demo(2026, TODAY)
    live = LiveActivity(demo.bureau, 1, run="t")
    now = datetime(2026, 11, 24, 10, tzinfo=BUSINESS_TZ)
    events = [e for _ in range(600) for e in live.next_events(now)]
    assert len({e.id for e in events}) == len(events)
    for event in events:
        assert parse_event(serialize_event(event)) == event
        assert describe(event).startswith("10:00:00 ")
    kinds = Counter(
        e.data.kind if isinstance(e.data, ev.VisitMade) else type(e.data).__name__ for e in events
    )
    assert {"household", "community", "liaison", "LectureAttended", "VolunteerLogged"} <= set(kinds)
    assert 0 < kinds["ViolationRetracted"] <= kinds["ViolationLogged"] < 30
    attended = [e.data for e in events if isinstance(e.data, ev.LectureAttended)]
    opened = {e.data.lecture_id for e in events if isinstance(e.data, ev.LectureDelivered)}
    assert {a.lecture_id for a in attended} <= opened
    assert len({(a.lecture_id, a.member_id) for a in attended}) == len(attended)


def test_every_demo_event_passes_the_contract() -> None:
    for event in build_demo(2026, TODAY).events:
        assert parse_event(serialize_event(event), latest=False) == event
