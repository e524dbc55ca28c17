from __future__ import annotations

import random
from dataclasses import replace

import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.closing import EARLY_CLOSE
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from tests.support.builders import Events, at
from tests.unit.scoring.scenario import EXPECTED_V, quarter_events

Q3 = Quarter(2026, 3)


def indices(engine: ScoringEngine, quarter: Quarter = Q3) -> dict[str, float]:
    standings = engine.standings(quarter)
    found = {m.member_id: m.index for m in standings.members}
    found.update({d.id: d.index for d in standings.departments})
    found.update({f"branch:{b.id}": b.index for b in standings.branches})
    return found


def test_a_resent_event_counts_once(rules: Rules) -> None:
    engine = ScoringEngine(rules)
    events = quarter_events()
    for event in events:
        engine.apply(event)
    before = indices(engine)
    assert {engine.apply(event).status for event in events} == {"duplicate"}
    assert indices(engine) == before


def test_events_in_reverse_order_give_the_same_indices(rules: Rules) -> None:
    events = quarter_events()
    forward, backward = ScoringEngine(rules), ScoringEngine(rules)
    for event in events:
        forward.apply(event)
    for event in reversed(events):
        backward.apply(event)
    assert indices(backward) == pytest.approx(indices(forward))
    assert {m: indices(backward)[m] for m in EXPECTED_V} == pytest.approx(EXPECTED_V)


def test_activity_of_an_unregistered_member_counts_once_the_registration_arrives(
    rules: Rules,
) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    engine.apply(e.volunteer("late-joiner", "2026-07-05 10:00"))
    assert engine.standings(Q3).member("late-joiner") is None
    engine.apply(e.member("late-joiner", "d1", "2026-07-01 09:00"))
    score = engine.standings(Q3).member("late-joiner")
    assert score is not None and score.service == 2.0


def test_a_retraction_before_its_violation_still_removes_it(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    engine.apply(e.member("A", "d1", "2026-07-01 09:00"))
    engine.apply(e.retraction("v1", "2026-08-10 10:00"))
    engine.apply(e.violation("v1", "A", "2026-08-01 10:00"))
    score = engine.standings(Q3).member("A")
    assert score is not None and (score.violations, score.discipline) == (0, 20.0)


def test_a_member_who_changes_department_moves_to_its_aggregates(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    for event in quarter_events(e):
        engine.apply(event)
    engine.apply(e.member("B", "d2", "2026-09-01 09:00"))
    d1, d2 = sorted(engine.standings(Q3).departments, key=lambda d: d.id)
    assert (d1.members, d2.members) == (("A",), ("B", "C"))
    assert d1.team == pytest.approx(0.3 * 98)
    assert d2.discipline == 15 - 5 * 2  # B's and C's violations


def test_a_member_who_left_is_no_longer_ranked_whatever_the_order(rules: Rules) -> None:
    e = Events()
    left = e(ev.MemberLeft(member_id="B"), "2026-09-01 09:00")
    for order in ([*quarter_events(e), left], [left, *quarter_events(Events("/other"))]):
        engine = ScoringEngine(rules)
        for event in order:
            engine.apply(event)
        assert "B" not in {m.member_id for m in engine.standings(Q3).members}


def test_ties_go_to_more_lectures_given_then_more_households_then_member_id(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    setup = [e.department("d1", "b1", "2026-01-01 09:00")]
    setup += [e.member(m, "d1", "2026-01-01 09:00") for m in ("m3", "m2", "m1", "m4")]
    setup += e.household("h1", "m2", "2026-01-01 09:00")
    # 4 lectures; m4 gives one and attends none: rate 1/4 → S = 5 + 5 = 10.
    # m1, m2, m3 attend two: rate 1/2 → S = 10. m2 also visits a household (+5), so m2 is
    # first; m4 (a lecture given) beats m1 and m3; m1 before m3 by id.
    setup += [
        e.delivered(f"L{n}", "m4" if n == 1 else "x", f"2026-07-{10 + n} 15:00")
        for n in range(1, 5)
    ]
    setup += [
        e.attended(f"L{n}", m, f"2026-07-{10 + n} 15:00")
        for n in (2, 3)
        for m in ("m1", "m2", "m3")
    ]
    setup += [e.household_visit("m2", "h1", "2026-07-20 10:00")]
    setup += [e.volunteer("m1", "2026-07-21 10:00"), e.volunteer("m3", "2026-07-21 10:00")]
    setup += [e.volunteer("m1", "2026-07-22 10:00"), e.volunteer("m3", "2026-07-22 10:00")]
    setup += [e.volunteer("m2", "2026-07-22 10:00")]
    setup += [e.volunteer("m4", "2026-07-22 10:00"), e.volunteer("m4", "2026-07-23 10:00")]
    for event in setup:
        engine.apply(event)
    standings = engine.standings(Q3)
    order = [(m.member_id, m.index) for m in standings.members]
    assert order[0][0] == "m2"
    assert [m for m, _ in order[1:]] == ["m4", "m1", "m3"]
    assert len({index for _, index in order[1:]}) == 1  # a true three-way tie on the index


def test_close_freezes_the_quarter_and_later_events_for_it_are_late(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    for event in quarter_events(e):
        engine.apply(event)
    closed = engine.apply(e.close("2026Q3", "2026-10-11 00:00"))
    assert (closed.status, closed.closed) == ("applied", Q3)
    frozen = indices(engine)

    late_violation = e.violation("vA", "A", "2026-09-30 10:00")
    late = engine.apply(late_violation)
    assert (late.status, late.late_for) == ("late", Q3)
    assert indices(engine) == frozen
    assert engine.standings(Q3).status == "final"
    assert late.reason is not None and "2026Q3 was closed" in late.reason
    # master data still applies to the quarters that are open
    assert engine.apply(e.member("D", "d1", "2026-10-01 09:00")).status == "applied"
    assert "D" not in {m.member_id for m in engine.standings(Q3).members}
    # and master data of the closed quarter is listed as late for it, whatever its type
    late_member = engine.apply(e.member("E", "d1", "2026-09-20 09:00"))
    assert (late_member.status, late_member.late_for) == ("late", Q3)
    assert "E" not in {m.member_id for m in engine.standings(Q3).members}
    assert "E" in {m.member_id for m in engine.standings(Quarter(2026, 4)).members}


def test_a_quarter_cannot_be_closed_before_it_ends(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    outcome = engine.apply(e.close("2026Q4", "2026-11-24 10:00"))
    assert outcome.status == "rejected"
    assert outcome.reason == (
        "2026Q4 has not ended yet; it can be closed from 2027-01-01"
        " (or earlier with the extension attribute earlyclose giving the reason)"
    )


def test_an_early_close_with_its_reason_finalises_the_quarter_as_it_stands(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    for event in quarter_events(e):
        engine.apply(event)
    close = e.close("2026Q3", "2026-09-25 10:00")
    early = replace(close, extensions={EARLY_CLOSE: "年中表彰大会提前评选"})
    assert engine.apply(close).status == "rejected"
    outcome = engine.apply(early)
    assert (outcome.status, outcome.closed) == ("applied", Q3)
    assert engine.standings(Q3).status == "final"
    late = engine.apply(e.volunteer("A", "2026-09-28 10:00"))  # still in the quarter: late
    assert (late.status, late.late_for) == ("late", Q3)


def test_the_platform_closes_only_quarters_that_ended_while_it_ran(rules: Rules) -> None:
    engine = ScoringEngine(rules)
    assert engine.quarters_due_to_close(at("2026-10-11 00:00")) == []  # nothing read yet
    engine.running_since = at("2026-08-01 00:00")
    assert engine.quarters_due_to_close(at("2026-10-10 23:59")) == []
    assert engine.quarters_due_to_close(at("2026-10-11 00:00")) == [Q3]
    assert engine.quarters_due_to_close(at("2027-01-20 00:00")) == [
        Q3,
        Quarter(2026, 4),
    ]


def test_year_end_top_ten_is_the_mean_of_four_quarters_and_final_when_q4_closes(
    rules: Rules,
) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    for event in quarter_events(e):
        engine.apply(event)
    provisional = engine.top_ten(2026)
    assert provisional.status == "provisional"
    # Only A: B has a violation in the year, C is not a party member. Q1, Q2, Q4 have no
    # activity: a missing quarter counts 0, so the mean is 98 / 4.
    assert [(m.member_id, m.mean_index) for m in provisional.members] == [("A", 98 / 4)]
    engine.apply(e.close("2026Q3", "2026-10-11 00:00"))
    engine.apply(e.volunteer("A", "2026-11-01 10:00"))  # Q4: S 20 + R 2 + D 20 = 42
    engine.apply(e.close("2026Q4", "2027-01-11 00:00"))
    final = engine.top_ten(2026)
    assert final.status == "final"
    assert final.members[0].mean_index == pytest.approx((98 + 42) / 4)
    assert final.members[0].quarters == pytest.approx({"2026Q3": 98, "2026Q4": 42})


def test_exemplars_are_capped_by_the_rules(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    engine.apply(e.department("d1", "b1", "2026-01-01 09:00"))
    for n in range(15):
        engine.apply(e.member(f"m{n:02d}", "d1", "2026-01-01 09:00"))
        for _ in range(n % 4):
            engine.apply(e.volunteer(f"m{n:02d}", "2026-07-02 10:00"))
    standings = engine.standings(Q3)
    assert len(standings.exemplars) == rules.selections.exemplars == 10
    assert standings.exemplars[:3] == ("m03", "m07", "m11")


def test_random_arrival_order_with_duplicates_gives_the_same_standings(rules: Rules) -> None:
    events = quarter_events()
    reference = ScoringEngine(rules)
    for event in events:
        reference.apply(event)
    shuffler = random.Random(7)
    for _ in range(20):
        mixed = events + shuffler.sample(events, 10)
        shuffler.shuffle(mixed)
        engine = ScoringEngine(rules)
        for event in mixed:
            engine.apply(event)
        assert indices(engine) == pytest.approx(indices(reference))
        assert engine.standings(Q3).exemplars == reference.standings(Q3).exemplars


def test_kpis_that_feed_no_index_are_taken_without_effect(rules: Rules) -> None:
    e = Events()
    engine = ScoringEngine(rules)
    engine.apply(e.member("A", "d1", "2026-01-01 09:00"))
    revenue = e.kpi(
        "bureau", "bureau", "general_budget_revenue", "2025", 113.32, "2026-01-20 10:00"
    )
    assert engine.apply(revenue).status == "applied"
    assert engine.quarters() == []
