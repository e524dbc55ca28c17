"""The lectures' speaker rotation: who spoke this year, who has not yet, who is next."""

from __future__ import annotations

from datetime import date, datetime

from mingdeng.gateway.domain.rotation import Scheduled, Speaker, rotation

ROSTER = [Speaker(m, f"名{m}", "d1") for m in ("A", "B", "C", "D", "E")]
DELIVERIES = [
    ("A", datetime(2026, 3, 10, 15)),
    ("A", datetime(2026, 9, 10, 15)),
    ("B", datetime(2026, 5, 10, 15)),
    ("C", datetime(2025, 4, 10, 15)),
    ("D", datetime(2025, 11, 10, 15)),
    ("Z", datetime(2026, 1, 10, 15)),  # left: not on the roster
]
TODAY = date(2026, 12, 6)


def test_spoken_and_not_yet_this_year_and_the_longest_waiting_next() -> None:
    found = rotation(ROSTER, DELIVERIES, [], 2026, TODAY, most_next=2)
    assert [(t.member_id, t.sessions_this_year, t.last_spoke_on) for t in found.spoken] == [
        ("A", 2, date(2026, 9, 10)),
        ("B", 1, date(2026, 5, 10)),
    ]
    # never spoken first, then the oldest last lecture
    assert [(t.member_id, t.last_spoke_on) for t in found.not_yet] == [
        ("E", None), ("C", date(2025, 4, 10)), ("D", date(2025, 11, 10)),
    ]  # fmt: skip
    assert found.next_rule == "longest_waiting"
    assert [t.member_id for t in found.next] == ["E", "C"]


def test_the_scheduled_speakers_are_next_soonest_first() -> None:
    scheduled = [
        Scheduled("L9", date(2027, 1, 15), "预算法", "D"),
        Scheduled("L8", date(2026, 12, 20), "廉洁", "B"),
        Scheduled("L7", date(2026, 11, 20), "过期未讲", "C"),  # before today: not upcoming
    ]
    found = rotation(ROSTER, DELIVERIES, scheduled, 2026, TODAY)
    assert found.next_rule == "scheduled"
    assert [s.lecture_id for s in found.upcoming] == ["L8", "L9"]
    assert [(t.member_id, t.scheduled_on) for t in found.next] == [
        ("B", date(2026, 12, 20)), ("D", date(2027, 1, 15)),
    ]  # fmt: skip


def test_another_year_counts_that_year() -> None:
    found = rotation(ROSTER, DELIVERIES, [], 2025, TODAY)
    assert [(t.member_id, t.sessions_this_year) for t in found.spoken] == [("C", 1), ("D", 1)]
    assert [t.member_id for t in found.not_yet] == ["E", "B", "A"]
