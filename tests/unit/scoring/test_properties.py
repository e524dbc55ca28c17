"""Properties of SPEC §3 over random quarters: bounds, order independence, idempotency, and a
violation never raising an index."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events

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
