"""The incremental views equal a full recomputation (the oracle: the views as they were computed
before issue 21) on random histories, whatever the order of the events and however the clock
moves; and the work of an event does not grow with the history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.outreach_views import LINE_VIEWS
from mingdeng.outreach.domain.views import OutreachViews
from tests.support.builders import Events, at
from tests.unit.outreach import oracle
from tests.unit.outreach.scenario import bureau_events

MEMBERS = ["m1", "m2", "m3", "m4", "m5"]
HOUSEHOLDS = ["h1", "h2", "h3", "h4"]
DEPARTMENTS = ["d1", "d2"]
START = at("2026-05-20 00:00")
SPAN_HOURS = 24 * 240  # events from late May 2026 to mid-January 2027
HOURS = st.integers(0, SPAN_HOURS)


def when(hours: int) -> datetime:
    return START + timedelta(hours=hours)


def registry(e: Events) -> list[Event[EventData]]:
    events = [e.branch("b1", "2026-05-01 09:00"), e.branch("b2", "2026-05-01 09:00")]
    events += [e.department("d1", "b1", "2026-05-01 09:00")]
    events += [e.department("d2", "b2", "2026-05-01 09:00")]
    events += [e.member(m, DEPARTMENTS[n % 2], "2026-05-01 09:00") for n, m in enumerate(MEMBERS)]
    return events


@st.composite
def an_event(draw: Any, e: Events) -> Event[EventData]:
    moment = when(draw(HOURS))
    member = draw(st.sampled_from(MEMBERS))
    household = draw(st.sampled_from(HOUSEHOLDS))
    ids = st.sampled_from(["1", "2", "3", "4", "5", "6"])  # ids come again: newer replaces
    kind = draw(
        st.sampled_from(
            ["pair"] * 3
            + ["unpair", "household", "member", "leave", "department"]
            + ["visit"] * 6
            + ["community", "liaison", "assign", "talk", "volunteer"]
            + ["suggest", "adopt", "workplan"]
        )
    )
    match kind:
        case "pair":
            return e(ev.HouseholdPaired(household_id=household, member_id=member), moment)
        case "unpair":
            return e(ev.HouseholdUnpaired(household_id=household, member_id=member), moment)
        case "household":
            village = draw(st.sampled_from(["沙市村", "东门村"]))
            return e(
                ev.HouseholdRegistered(household_id=household, village=village, head_name="户主"),
                moment,
            )
        case "member":
            department = draw(st.sampled_from([*DEPARTMENTS, "d3"]))
            name = draw(st.sampled_from(["甲", "乙"]))
            return e.member(member, department, "2026-05-01 09:00", name=name)
        case "leave":
            return e(ev.MemberLeft(member_id=member), moment)
        case "department":
            branch = draw(st.sampled_from(["b1", "b2"]))
            return e.department(draw(st.sampled_from(DEPARTMENTS)), branch, "2026-05-02 09:00")
        case "visit":
            visit_id = f"v{draw(st.integers(0, 30))}"
            return e(
                ev.VisitMade(
                    visit_id=visit_id, member_id=member, kind="household", household_id=household
                ),
                moment,
            )
        case "community" | "liaison":
            visit_id = f"{kind}{draw(ids)}"
            return e(ev.VisitMade(visit_id=visit_id, member_id=member, kind=kind), moment)
        case "assign":
            return e(
                ev.LiaisonAssigned(
                    leader_id=member,
                    agency_branch_id=draw(st.sampled_from(["b1", "b2"])),
                    village_branch="沙市村党支部",
                ),
                moment,
            )
        case "talk":
            category = draw(st.sampled_from(["youth", "leadership", "member"]))
            return e(
                ev.TalkHeld(
                    talk_id=f"t{draw(ids)}", host_id="m1", member_id=member, category=category
                ),
                moment,
            )
        case "volunteer":
            minutes = draw(st.integers(1, 600))
            return e(
                ev.VolunteerLogged(
                    activity_id=f"a{draw(ids)}", member_id=member, minutes=minutes, title="义诊"
                ),
                moment,
            )
        case "suggest":
            return e(
                ev.SuggestionSubmitted(
                    suggestion_id=f"s{draw(ids)}",
                    department_id=draw(st.sampled_from(DEPARTMENTS)),
                    topic=draw(st.sampled_from(["预算", "营商环境"])),
                    text="…",
                ),
                moment,
            )
        case "adopt":
            return e(ev.SuggestionAdopted(suggestion_id=f"s{draw(ids)}"), moment)
        case _:
            return e(
                ev.WorkplanAdopted(
                    plan_id=f"p{draw(ids)}", suggestion_id="s1", department_id="d1", title="方案"
                ),
                moment,
            )


@st.composite
def histories(draw: Any) -> list[Event[EventData]]:
    e = Events()
    events = registry(e) + draw(st.lists(an_event(e), max_size=60))
    return draw(st.permutations(events))


# steps of the clock between refreshes: none, hours, days, past a day boundary or 60 days
STEPS = st.lists(
    st.sampled_from([0, 1, 5, 23, 24, 25, 24 * 7, 24 * 30, 24 * 59, 24 * 61]), min_size=1
)
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def still_shown(key: str, now_published: dict[str, str]) -> bool:
    """A view stays as published last; a line too while its period is not published any more
    (a period without activity that has ended), else it goes when the oracle no longer has it."""
    kind, *of = key.split("/")
    if kind not in LINE_VIEWS or key in now_published:
        return True
    return kind == "coverage_member" and f"coverage/{of[0]}" not in now_published


def with_something_to_show(published: dict[str, str]) -> dict[str, str]:
    """What a reader holds: the lines published `null` last show nothing."""
    return {key: body for key, body in published.items() if body != "null"}


@PROPERTY_SETTINGS
@given(histories(), st.data())
def test_incremental_views_equal_a_full_recomputation_as_events_arrive_and_time_passes(
    events: list[Event[EventData]], data: Any
) -> None:
    now = when(data.draw(HOURS))
    views = OutreachViews(now)
    published: dict[str, str] = {}
    seen: dict[str, str] = {}
    applied: list[Event[EventData]] = []
    remaining = list(events)
    while remaining or not applied:
        batch = data.draw(st.integers(1, max(1, len(remaining))))
        for event in remaining[:batch]:
            views.apply(event)
            applied.append(event)
        remaining = remaining[batch:]
        for step in data.draw(STEPS):
            now += timedelta(hours=step)
            views.touch_running(now)  # as_of of the running periods is now
            published |= {p.key: p.body.decode() for p in views.refresh(now)}
            expected = oracle.all_views(oracle.fold(applied), now)
            seen = {k: v for k, v in seen.items() if still_shown(k, expected)} | expected
            assert with_something_to_show(published) == seen


def test_the_bureau_of_the_scenario_equals_the_oracle_byte_for_byte() -> None:
    now = at("2026-10-01 12:00")
    views = OutreachViews(now)
    for event in bureau_events():
        views.apply(event)
    publications = views.refresh(now)
    assert with_something_to_show(
        {p.key: p.body.decode() for p in publications}
    ) == oracle.all_views(oracle.fold(bureau_events()), now)
    for publication in publications:
        assert publication.message() == publication.model().to_json()


# --- the work of an event does not grow with the history ------------------------------------


def bureau_with_history(quarters: int, e: Events) -> tuple[OutreachViews, datetime]:
    """Ten members with two households each, and `quarters` quarters of visits, community
    reports and volunteering before now."""
    now = at("2026-10-01 12:00")
    views = OutreachViews(now)
    for event in registry(e):
        views.apply(event)
    members = [f"x{n}" for n in range(10)]
    for n, member in enumerate(members):
        views.apply(e.member(member, DEPARTMENTS[n % 2], "2020-01-01 09:00"))
        for household in (f"{member}a", f"{member}b"):
            for event in e.household(household, member, "2020-01-01 09:00"):
                views.apply(event)
    first = now - timedelta(days=91 * quarters)
    for day in range(91 * quarters):
        moment = first + timedelta(days=day)
        for n, member in enumerate(members):
            views.apply(e.household_visit(member, f"{member}{'ab'[day % 2]}", moment))
            if (day + n) % 3 == 0:
                views.apply(e.community_visit(member, moment))
                views.apply(e.volunteer(member, moment))
    views.refresh(now)
    return views, now


def work_of_a_day(views: OutreachViews, now: datetime, e: Events) -> int:
    """The work of a day's events (visits, volunteering, a pairing) and their refreshes."""
    before = views.work
    for hour in range(10):
        moment = now + timedelta(hours=hour)
        views.apply(e.household_visit(f"x{hour}", f"x{hour}a", moment))
        views.apply(e.volunteer(f"x{hour}", moment))
        views.apply(e.community_visit(f"x{hour}", moment))
        views.refresh(moment)
    views.apply(e(ev.HouseholdPaired(household_id="x1a", member_id="x2"), now))
    views.refresh(now + timedelta(days=1))
    return views.work - before


def test_the_work_per_event_does_not_grow_with_the_history() -> None:
    e = Events()
    short, now = bureau_with_history(1, e)
    long, _ = bureau_with_history(12, e)  # twelve times the visits, over three years
    assert len(long.state.household_visits) == 12 * len(short.state.household_visits)
    small, large = work_of_a_day(short, now, e), work_of_a_day(long, now, e)
    assert len(long.periods) > 5 * len(short.periods)
    assert large == small


# --- no message grows with the organisation ---------------------------------------------------


def largest_message(members: int) -> int:
    """The largest record outreach publishes for a bureau of `members` members in two
    departments, each paired with two households, half of them visited, none for 60 days."""
    e = Events()
    now = at("2026-10-01 12:00")
    views = OutreachViews(now)
    for event in registry(e):
        views.apply(event)
    for n in range(members):
        member = f"x{n:06d}"
        views.apply(e.member(member, DEPARTMENTS[n % 2], "2026-01-01 09:00"))
        for household in (f"{member}a", f"{member}b"):
            for event in e.household(household, member, "2026-01-01 09:00"):
                views.apply(event)
        if n % 2:
            views.apply(e.household_visit(member, f"{member}a", "2026-09-20 10:00"))
    return max(len(p.message()) for p in views.refresh(now))


def test_no_message_grows_with_the_organisation() -> None:
    small, large = largest_message(20), largest_message(4000)
    assert large == small < 2000
