from __future__ import annotations

import pytest

from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from tests.support.builders import Events
from tests.unit.scoring.scenario import (
    EXPECTED_BRANCH,
    EXPECTED_COMPONENTS,
    EXPECTED_F,
    EXPECTED_V,
    quarter_events,
)

Q3 = Quarter(2026, 3)


@pytest.fixture
def engine(rules: Rules) -> ScoringEngine:
    engine = ScoringEngine(rules)
    for event in quarter_events():
        assert engine.apply(event).status == "applied"
    return engine


def test_vanguard_index_and_components_match_the_hand_computation(engine: ScoringEngine) -> None:
    standings = engine.standings(Q3)
    for member_id, expected in EXPECTED_V.items():
        score = standings.member(member_id)
        assert score is not None
        assert score.index == pytest.approx(expected)
        assert score.components == pytest.approx(EXPECTED_COMPONENTS[member_id])


def test_fortress_index_of_departments_and_the_member_weighted_branch(
    engine: ScoringEngine,
) -> None:
    standings = engine.standings(Q3)
    assert {d.id: d.index for d in standings.departments} == pytest.approx(EXPECTED_F)
    d1 = standings.departments[0]
    assert d1.components == pytest.approx(
        {"business": 34.0, "team": 25.05, "activity": 15.0, "discipline": 10.0}
    )
    assert [b.index for b in standings.branches] == pytest.approx([EXPECTED_BRANCH])


def test_rankings_and_selections(engine: ScoringEngine) -> None:
    standings = engine.standings(Q3)
    assert [m.member_id for m in standings.members] == ["A", "B", "C"]
    assert standings.exemplars == ("A",)
    assert standings.excellent_departments == ("d1", "d2")
    assert standings.status == "provisional"
    assert standings.rules_version == "2026.1"


def test_every_event_says_which_component_it_feeds(rules: Rules) -> None:
    engine = ScoringEngine(rules)
    counted = [engine.apply(event).counts_for for event in quarter_events()]
    fed = {(c.subject_id, c.component) for contributions in counted for c in contributions}
    assert {("A", "performance"), ("A", "study"), ("A", "service")} <= fed
    assert {("B", "discipline"), ("C", "discipline"), ("d1", "business")} <= fed
    assert all(c.quarter == Q3 for contributions in counted for c in contributions)
    registry = counted[:6]
    assert registry == [()] * 6  # master data feeds no single component


def test_no_lectures_in_a_quarter_means_a_full_study_rate(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    for event in [
        e.department("d1", "b1", "2026-01-01 09:00"),
        e.member("A", "d1", "2026-01-01 09:00"),
        e.volunteer("A", "2026-04-02 10:00"),
    ]:
        engine.apply(event)
    a = engine.standings(Quarter(2026, 2)).member("A")
    assert a is not None
    assert (a.study, a.study_rate, a.index) == (20.0, 1.0, 20 + 2 + 20)


def test_discipline_floors_at_zero_and_caps_hold(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    engine.apply(e.member("A", "d1", "2026-01-01 09:00"))
    for n in range(3):
        engine.apply(e.violation(f"v{n}", "A", "2026-05-01 10:00"))
    for _ in range(5):
        engine.apply(e.volunteer("A", "2026-05-02 10:00"))
    a = engine.standings(Quarter(2026, 2)).member("A")
    assert a is not None
    assert (a.discipline, a.service) == (0.0, 6.0)


def test_a_visit_to_a_household_counts_only_while_paired(rules: Rules) -> None:
    from mingdeng.contracts import events as ev

    e = Events()
    engine = ScoringEngine(rules)
    for event in [
        e.member("A", "d1", "2026-01-01 09:00"),
        *e.household("h1", "A", "2026-01-01 09:00"),
        e(ev.HouseholdUnpaired(household_id="h1", member_id="A"), "2026-05-01 09:00"),
        e.household_visit("A", "h1", "2026-05-02 10:00"),  # after unpairing: not counted
        e.household_visit("A", "h1", "2026-04-30 10:00"),  # before: counted
    ]:
        engine.apply(event)
    a = engine.standings(Quarter(2026, 2)).member("A")
    assert a is not None
    assert (a.households_visited, a.service) == (1, 5.0)
