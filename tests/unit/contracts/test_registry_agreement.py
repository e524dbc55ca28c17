"""Issue 12: every service folds the registry the same way. The same registry history, shuffled
and full of ties in time, goes to scoring, the notifier and outreach; each must agree with a
reference that applies the history in (time, source, id) order, the documented order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.notify.domain.state import NotifyState
from mingdeng.outreach.domain.state import OutreachState
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.settings import DEFAULT_RULES

QUARTER = Quarter(2026, 3)
RULES = Rules.load(DEFAULT_RULES)
START = datetime(2026, 8, 1, 9, tzinfo=BUSINESS_TZ)
MOMENTS = [START + timedelta(hours=n) for n in range(3)]  # few moments: many ties
LATER = START + timedelta(days=1)
MEMBERS, DEPARTMENTS, BRANCHES, HOUSEHOLDS = ["m1", "m2", "m3"], ["d1", "d2"], ["b1", "b2"], ["h1"]

payloads = st.one_of(
    st.builds(
        lambda m, d, secretary: ev.MemberRegistered(
            member_id=m,
            name=f"{m}-{d}",
            department_id=d,
            roles=("secretary",) if secretary else ("member",),
            party_member=True,
        ),
        st.sampled_from(MEMBERS),
        st.sampled_from(DEPARTMENTS),
        st.booleans(),
    ),
    st.builds(lambda m: ev.MemberLeft(member_id=m), st.sampled_from(MEMBERS)),
    st.builds(
        lambda d, b, leader: ev.DepartmentRegistered(
            department_id=d, name=f"{d}-{b}", branch_id=b, leader_id=leader
        ),
        st.sampled_from(DEPARTMENTS),
        st.sampled_from(BRANCHES),
        st.sampled_from(["L1", "L2"]),
    ),
    st.builds(
        lambda b, name: ev.BranchRegistered(branch_id=b, name=name),
        st.sampled_from(BRANCHES),
        st.sampled_from(["一支部", "二支部"]),
    ),
    st.builds(
        lambda h, m, paired: (ev.HouseholdPaired if paired else ev.HouseholdUnpaired)(
            household_id=h, member_id=m
        ),
        st.sampled_from(HOUSEHOLDS),
        st.sampled_from(MEMBERS),
        st.booleans(),
    ),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Event[EventData]], list[Event[EventData]]]:
    """A registry history (ids distinct, times and sources often equal) and the same history
    in another order."""
    count = draw(st.integers(1, 14))
    ids = draw(st.lists(st.sampled_from([f"e{n:02}" for n in range(30)]), min_size=count,
                        max_size=count, unique=True))  # fmt: skip
    history = [
        new_event(
            draw(payloads),
            source=draw(st.sampled_from(["/systems/hr", "/systems/oa"])),
            time=draw(st.sampled_from(MOMENTS)),
            event_id=event_id,
        )
        for event_id in ids
    ]
    household = new_event(
        ev.HouseholdRegistered(household_id="h1", village="东村", head_name="户主"),
        source="/systems/hr",
        time=START - timedelta(days=1),
        event_id="household",
    )
    history.append(household)
    return history, draw(st.permutations(history))


def reference(history: list[Event[EventData]]) -> dict[str, Any]:
    """The documented rule, written plainly: apply in (time, source, id) order, the last
    registration wins, a departure counts when it is later than the registration."""
    members: dict[str, ev.MemberRegistered] = {}
    active: dict[str, bool] = {}
    departments: dict[str, ev.DepartmentRegistered] = {}
    paired: dict[tuple[str, str], bool] = {}
    for event in sorted(history, key=lambda e: (e.time, e.source, e.id)):
        match event.data:
            case ev.MemberRegistered() as data:
                members[data.member_id], active[data.member_id] = data, True
            case ev.MemberLeft() as data:
                active[data.member_id] = False
            case ev.DepartmentRegistered() as data:
                departments[data.department_id] = data
            case ev.HouseholdPaired() | ev.HouseholdUnpaired() as data:
                paired[(data.household_id, data.member_id)] = isinstance(data, ev.HouseholdPaired)
    in_force = {m: members[m] for m in members if active[m]}
    return {
        "members": {m: data.department_id for m, data in in_force.items()},
        "branches": {
            m: departments[data.department_id].branch_id
            for m, data in in_force.items()
            if data.department_id in departments
        },
        "leaders": {
            m: departments[data.department_id].leader_id
            for m, data in in_force.items()
            if data.department_id in departments
        },
        "pairings": sorted(pair for pair, on in paired.items() if on and pair[1] in in_force),
    }


def scoring_view(history: list[Event[EventData]]) -> dict[str, Any]:
    engine = ScoringEngine(RULES)
    for event in history:
        engine.apply(event)
    standings = engine.standings(QUARTER)
    department_branch = {d.id: d.branch_id for d in standings.departments}
    return {
        "members": {m.member_id: m.department_id for m in standings.members},
        "branches": {
            m.member_id: department_branch[m.department_id]
            for m in standings.members
            if m.department_id in department_branch
        },
    }


def notify_view(history: list[Event[EventData]]) -> dict[str, Any]:
    state = NotifyState()
    for event in history:
        state.apply(event)
    active = state.active()
    return {
        "members": {r.member_id: r.department_id for r in active},
        "branches": {r.member_id: b for r in active if (b := state.branch_of(r.member_id))},
        "leaders": {r.member_id: x for r in active if (x := state.leader_of(r.member_id))},
    }


def outreach_view(history: list[Event[EventData]]) -> dict[str, Any]:
    state = OutreachState()
    for event in history:
        state.apply(event)
    active = state.registry.active_members()
    return {
        "members": {r.member_id: r.department_id for r in active},
        "branches": {r.member_id: b for r in active if (b := state.branch_of(r.member_id))},
        "pairings": sorted(p for p in state.changes if state.in_force(p, LATER) is not None),
    }


@settings(max_examples=150, deadline=None)
@given(histories())
def test_every_service_folds_the_registry_in_the_same_order(
    shuffled: tuple[list[Event[EventData]], list[Event[EventData]]],
) -> None:
    history, other_order = shuffled
    expected = reference(history)
    for view in (scoring_view, notify_view, outreach_view):
        for events in (history, other_order):
            found = view(events)
            assert found == {key: expected[key] for key in found}, view.__name__
