"""Properties of SPEC §3 over random quarters: bounds, order independence, idempotency, and a
violation never raising an index."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.domain.standings import compute_standings, compute_top_ten
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events
from tests.support.records import PARTITIONS, Log

RULES = Rules.load(DEFAULT_RULES)
Q3 = Quarter(2026, 3)
MEMBERS = ["m1", "m2", "m3", "m4", "m5", "m6"]
HOUSEHOLDS = ["h1", "h2", "h3", "h4"]
LECTURES = ["L1", "L2", "L3"]
DAYS = st.integers(min_value=1, max_value=28)
MONTHS = st.sampled_from(["07", "08", "09"])


def registry(e: Events) -> list[Event[EventData]]:
    events = [e.branch("b1", "2026-06-01 09:00"), e.branch("b2", "2026-06-01 09:00")]
    events += [
        e.department(d, b, "2026-06-01 09:00")
        for d, b in (("d1", "b1"), ("d2", "b1"), ("d3", "b2"))
    ]
    events += [
        e.member(m, f"d{n % 3 + 1}", "2026-06-01 09:00", party=n % 4 != 0)
        for n, m in enumerate(MEMBERS)
    ]
    for n, household in enumerate(HOUSEHOLDS):
        events += e.household(household, MEMBERS[n % len(MEMBERS)], "2026-06-01 09:00")
    return events


@st.composite
def activity(draw: Any, e: Events) -> Event[EventData]:
    when = f"2026-{draw(MONTHS)}-{draw(DAYS):02d} 10:00"
    member = draw(st.sampled_from(MEMBERS))
    kind = draw(
        st.sampled_from(
            [
                "deliver",
                "attend",
                "visit",
                "community",
                "volunteer",
                "violation",
                "retract",
                "kpi",
                "business",
            ]
        )
    )
    match kind:
        case "deliver":
            return e.delivered(draw(st.sampled_from(LECTURES)), member, when)
        case "attend":
            return e.attended(draw(st.sampled_from(LECTURES)), member, when)
        case "visit":
            return e.household_visit(member, draw(st.sampled_from(HOUSEHOLDS)), when)
        case "community":
            return e.community_visit(member, when)
        case "volunteer":
            return e.volunteer(member, when)
        case "violation":
            return e.violation(f"v{draw(st.integers(0, 5))}", member, when)
        case "retract":
            return e.retraction(f"v{draw(st.integers(0, 5))}", when)
        case "kpi":
            return e.kpi("member", member, "performance", "2026Q3", draw(st.floats(0, 100)), when)
        case _:
            department = draw(st.sampled_from(["d1", "d2", "d3"]))
            return e.kpi(
                "department", department, "business", "2026Q3", draw(st.floats(0, 100)), when
            )


@st.composite
def quarters(draw: Any) -> list[Event[EventData]]:
    e = Events()
    return registry(e) + draw(st.lists(activity(e), max_size=40))


def run(events: list[Event[EventData]]) -> ScoringEngine:
    engine = ScoringEngine(RULES)
    for event in events:
        engine.apply(event)
    return engine


def snapshot(engine: ScoringEngine) -> dict[str, tuple[float, ...]]:
    standings = engine.standings(Q3)
    found: dict[str, tuple[float, ...]] = {}
    for m in standings.members:
        found[m.member_id] = (m.index, *m.components.values())
    for f in (*standings.departments, *standings.branches):
        found[f"{f.level}:{f.id}"] = (f.index, *f.components.values())
    return found


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(quarters())
def test_every_index_and_component_stays_within_its_bounds(events: list[Event[EventData]]) -> None:
    standings = run(events).standings(Q3)
    for m in standings.members:
        assert 0 <= m.performance <= 40 and 0 <= m.study <= 20
        assert 0 <= m.service <= 20 and 0 <= m.discipline <= 20
        assert 0 <= m.index <= 100
    for f in (*standings.departments, *standings.branches):
        assert 0 <= f.business <= 40 and 0 <= f.team <= 30
        assert 0 <= f.activity <= 15 and 0 <= f.discipline <= 15
        assert 0 <= f.index <= 100 + 1e-9


@PROPERTY_SETTINGS
@given(quarters(), st.randoms(use_true_random=False))
def test_any_permutation_gives_the_same_indices(events: list[Event[EventData]], rnd: Any) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    expected, actual = snapshot(run(events)), snapshot(run(shuffled))
    assert actual.keys() == expected.keys()
    for key, values in expected.items():
        assert actual[key] == pytest.approx(values), key
    assert run(shuffled).standings(Q3).exemplars == run(events).standings(Q3).exemplars


@PROPERTY_SETTINGS
@given(quarters(), st.data())
def test_duplicates_change_nothing(events: list[Event[EventData]], data: Any) -> None:
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=15))
    assert snapshot(run(events + repeats)) == snapshot(run(events))


@PROPERTY_SETTINGS
@given(quarters(), st.sampled_from(MEMBERS), MONTHS, DAYS)
def test_a_violation_never_raises_an_index(
    events: list[Event[EventData]], member: str, month: str, day: int
) -> None:
    before = snapshot(run(events))
    extra = Events(source="/systems/inspection").violation(
        "v-new", member, f"2026-{month}-{day:02d} 11:00"
    )
    after = snapshot(run([*events, extra]))
    for key, (index, *_) in before.items():
        assert after[key][0] <= index + 1e-9, key
    assert after[member][0] < before[member][0] or before[member][4] == 0  # unless D was 0 already


# --- incremental scoring equals full recomputation (issue 9) -------------------------------

Q4 = Quarter(2026, 4)
ALL_MONTHS = st.sampled_from(["07", "08", "09", "10", "11", "12"])


@st.composite
def changing_registry(draw: Any, e: Events) -> Event[EventData]:
    """Master data that moves things about while activity arrives."""
    when = f"2026-{draw(ALL_MONTHS)}-{draw(DAYS):02d} 09:00"
    member = draw(st.sampled_from(MEMBERS))
    match draw(st.sampled_from(["move", "leave", "pair", "unpair", "department", "household"])):
        case "move":
            return e.member(member, draw(st.sampled_from(["d1", "d2", "d3"])), when)
        case "leave":
            return e(ev.MemberLeft(member_id=member), when)
        case "pair" | "unpair" as change:
            household = draw(st.sampled_from(HOUSEHOLDS))
            kind = ev.HouseholdPaired if change == "pair" else ev.HouseholdUnpaired
            return e(kind(household_id=household, member_id=member), when)
        case "department":
            return e.department(
                draw(st.sampled_from(["d1", "d2", "d3"])), draw(st.sampled_from(["b1", "b2"])), when
            )
        case _:
            return e(
                ev.HouseholdRegistered(
                    household_id=draw(st.sampled_from(HOUSEHOLDS)), village="v", head_name="h"
                ),
                when,
            )


@st.composite
def histories(draw: Any) -> list[Event[EventData]]:
    e = Events()
    base = registry(e)
    moves = draw(st.lists(changing_registry(e), max_size=12))
    acts = draw(st.lists(activity(e), max_size=40))
    fourth = draw(st.lists(activity(e), max_size=10))
    # the same kinds of activity in Q4 too
    fourth = [
        Event(**{**x.__dict__, "time": x.time.replace(month=x.time.month + 3)})  # type: ignore[arg-type]
        for x in fourth
        if not isinstance(x.data, ev.KpiReported)
    ]
    return base + moves + acts + fourth


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(histories(), st.randoms(use_true_random=False))
def test_incremental_standings_and_top_ten_equal_a_full_recomputation(
    events: list[Event[EventData]], rnd: Any
) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    engine = ScoringEngine(RULES)
    for event in shuffled:
        engine.apply(event)
        if rnd.random() < 0.5:
            engine.flush()  # flushes at random moments must not change the outcome
        if rnd.random() < 0.3:
            engine.top_ten(2026)  # nor asking for the top ten (it is kept incrementally)
    engine.flush()
    for quarter in (Q3, Q4):
        assert engine.standings(quarter) == compute_standings(engine.facts, quarter, RULES)
    afresh = {q: compute_standings(engine.facts, q, RULES) for q in engine.quarters()}
    candidates = afresh[max(afresh)].members if afresh else ()
    assert engine.top_ten(2026) == compute_top_ten(2026, afresh, candidates, RULES, "provisional")


# --- a close counts exactly what was accepted before it, whatever the interleaving (issue 16) --


@PROPERTY_SETTINGS
@given(quarters(), st.data())
def test_final_standings_hold_exactly_the_events_accepted_before_the_close(
    events: list[Event[EventData]], data: Any
) -> None:
    e = Events(source="/systems/admin", prefix="close")
    cut = data.draw(st.integers(0, len(events)))
    before, after = events[:cut], events[cut:]
    log = Log()
    for event in before:
        log.append(event, data.draw(st.integers(0, PARTITIONS - 1)))
    log.close(e.close("2026Q3", "2026-10-11 00:00"))
    for event in after:
        log.append(event, data.draw(st.integers(0, PARTITIONS - 1)))
    order = data.draw(st.lists(st.integers(0, PARTITIONS - 1), max_size=3 * len(events) + 8))

    service = ScoringService(RULES, PARTITIONS)
    service.take(log.interleaved(order))
    reference = ScoringEngine(RULES)
    for event in before:
        reference.apply(event)
    reference.close(Q3, e.close("2026Q3", "2026-10-11 00:00").time)
    assert service.engine.finals[Q3] == reference.finals[Q3]
