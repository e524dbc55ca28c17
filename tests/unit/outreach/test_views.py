"""Outreach rules on a small bureau whose answers are known (the clock is injected)."""

from __future__ import annotations

from typing import Any

import pytest

from mingdeng.contracts.outreach_views import OutreachView
from mingdeng.contracts.periods import Period
from mingdeng.outreach.domain.views import OutreachViews
from tests.support.builders import at
from tests.unit.outreach.scenario import bureau_events

NOW = at("2026-10-01 12:00")


def bureau() -> OutreachViews:
    views = OutreachViews(NOW)
    for event in bureau_events():
        views.apply(event)
    return views


def published() -> dict[str, OutreachView]:
    return {p.key: p.model() for p in bureau().refresh(NOW)}


def view_body(key: str) -> Any:
    return published()[key].body


def lines(view: str) -> list[Any]:
    """The lines of a view with something to show, in the order a reader lists them."""
    return [v.body for k, v in sorted(published().items()) if v.view == view and v.body]


def test_coverage_counts_pairings_in_force_and_visits_by_the_paired_member() -> None:
    body = view_body("coverage/2026Q3")
    assert (body.pairings, body.visited, body.rate) == (4, 3, 0.75)
    assert view_body("coverage_member/2026Q3/M1").model_dump(exclude={"name"}) == {
        "member_id": "M1", "department_id": "d1", "branch_id": "b1",
        "pairings": 2, "visited": 2, "rate": 1.0,
    }  # fmt: skip
    assert view_body("coverage_member/2026Q3/M2").visited == 1
    assert [d.model_dump() for d in body.by_department] == [
        {"department_id": "d1", "pairings": 4, "visited": 3, "rate": 0.75}
    ]
    assert body.by_branch[0].branch_id == "b1"


def test_coverage_of_a_month() -> None:
    body = view_body("coverage/2026-08")
    assert (body.pairings, body.visited) == (4, 1)  # only h2 was visited in August


def test_overdue_pairings_are_those_not_visited_for_60_days() -> None:
    items = sorted(lines("overdue_pairing"), key=lambda i: -i.days_without_visit)
    assert [(i.household_id, i.days_without_visit) for i in items] == [
        ("h4", 92),
        ("h3", 88),
        ("h1", 83),
    ]
    assert items[0].last_visit_at is None


def test_reminders_at_most_once_per_14_days_per_pairing() -> None:
    views = bureau()
    views.settle(NOW)
    reminded = {("h3", "M2"): at("2026-09-25 08:00"), ("h1", "M1"): at("2026-09-17 12:00")}
    assert [i.household_id for i in views.reminders_due(reminded, NOW)] == ["h4", "h1"]


def test_households_without_a_pairing_are_listed_for_reassignment() -> None:
    items = lines("unpaired_household")
    assert [(i.household_id, i.reason, i.previous_member_id) for i in items] == [
        ("h5", "unpaired", "M3"),
        ("h6", "member left", "M3"),
    ]
    assert items[1].since == at("2026-09-01 09:00")


def test_a_leader_without_a_liaison_visit_in_the_quarter_is_flagged() -> None:
    body = view_body("liaison/2026Q3")
    assert body.quarter_over is True
    assert [(x.leader_id, x.liaison_visits, x.flagged) for x in body.leaders] == [
        ("L1", 1, False),
        ("L2", 0, True),
    ]


def test_talks_by_category() -> None:
    by_category = view_body("talks/2026Q3").by_category
    assert by_category.model_dump() == {"youth": 1, "leadership": 0, "member": 1}


def test_suggestions_and_community_tallies() -> None:
    body = view_body("suggestions")
    assert (body.submitted, body.adopted, body.workplans) == (2, 1, 2)
    assert [t.model_dump() for t in body.by_topic] == [
        {"topic": "营商环境", "submitted": 1, "adopted": 1},
        {"topic": "预算", "submitted": 1, "adopted": 0},
    ]
    tally = view_body("community/2026Q3")
    assert (tally.community_reports, tally.members_reported) == (3, 2)
    assert (tally.volunteer_person_times, tally.volunteer_hours) == (2, 3.5)


def test_a_members_households_with_history() -> None:
    body = view_body("households/M3")
    assert body.households == []  # M3 left
    assert [(h.household_id, h.paired) for h in body.history] == [
        ("h5", True),
        ("h6", True),
        ("h5", False),
    ]
    m1 = view_body("households/M1")
    assert [(h.household_id, h.head_name) for h in m1.households] == [
        ("h1", "户主"),
        ("h2", "户主"),
    ]


def test_periods_are_quarters_and_months() -> None:
    assert Period.parse("2026-11").end == at("2026-12-01 00:00")
    with pytest.raises(ValueError, match="not a quarter"):
        Period.parse("2026-13")
    assert sorted(k for k in published() if k.startswith("coverage/")) == [
        "coverage/2026-07",
        "coverage/2026-08",
        "coverage/2026-09",
        "coverage/2026-10",
        "coverage/2026Q3",
        "coverage/2026Q4",
    ]
