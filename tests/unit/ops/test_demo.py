from __future__ import annotations

from collections import Counter
from datetime import date

from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.ops.demo import build_demo

TODAY = date(2026, 11, 24)


def test_the_demo_is_deterministic_from_its_seed() -> None:
    first, again = build_demo(7, TODAY), build_demo(7, TODAY)
    assert [serialize_event(e) for e in first.events] == [serialize_event(e) for e in again.events]
    assert [serialize_event(e) for e in build_demo(8, TODAY).events] != [
        serialize_event(e) for e in first.events
    ]


def test_the_demo_bureau_has_the_shape_of_the_seed() -> None:
    demo = build_demo(2026, TODAY)
    kinds = Counter(e.type.removeprefix("mingdeng.").rsplit(".", 1)[0] for e in demo.events)
    assert kinds["branch.registered"] == 5 and kinds["department.registered"] == 12
    assert kinds["member.registered"] == 130 and kinds["household.paired"] == 260
    assert kinds["lecture.delivered"] == 24 and 1600 <= kinds["lecture.attended"] <= 1800
    assert kinds["violation.retracted"] == 1 and 1 <= kinds["violation.logged"] <= 10
    leaders = {
        e.data.leader_id for e in demo.events if e.type == "mingdeng.department.registered.v1"
    }
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
    revenue = [
        e.data for e in demo.events if getattr(e.data, "metric", "") == "general_budget_revenue"
    ]
    assert [(k.value, k.unit) for k in revenue] == [(113.32, "亿元")]


def test_every_demo_event_passes_the_contract() -> None:
    for event in build_demo(2026, TODAY).events:
        assert parse_event(serialize_event(event), latest=False) == event
