"""A small bureau with known outreach figures (see tests/unit/outreach/test_views.py)."""

from __future__ import annotations

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from tests.support.builders import Events


def bureau_events(e: Events | None = None) -> list[Event[EventData]]:
    e = e or Events()
    return [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00"),
        e.member("M1", "d1", "2026-06-01 09:00"),
        e.member(
            "M2", "d1", "2026-06-01 09:00", name="书记", roles=("member", "secretary"), phone=None
        ),
        e.member("M3", "d1", "2026-06-01 09:00"),
        e.member("L1", "d1", "2026-06-01 09:00", name="领导一", roles=("leader",), phone=None),
        *e.household("h1", "M1", "2026-07-01 09:00"),
        *e.household("h2", "M1", "2026-07-01 09:00"),
        *e.household("h3", "M2", "2026-07-01 09:00"),
        *e.household("h4", "M2", "2026-07-01 09:00"),
        *e.household("h5", "M3", "2026-07-01 09:00"),
        *e.household("h6", "M3", "2026-07-01 09:00"),
        e(ev.HouseholdUnpaired(household_id="h5", member_id="M3"), "2026-08-15 09:00"),
        e(ev.MemberLeft(member_id="M3"), "2026-09-01 09:00"),
        e.household_visit("M1", "h1", "2026-07-10 10:00"),
        e.household_visit("M1", "h2", "2026-08-20 10:00"),
        e.household_visit("M2", "h3", "2026-07-05 10:00"),
        e.household_visit("M2", "h1", "2026-07-06 10:00"),  # not M2's household
        e.household_visit("M3", "h5", "2026-07-20 10:00"),
        e(
            ev.LiaisonAssigned(
                leader_id="L1", agency_branch_id="b1", village_branch="沙市村党支部"
            ),
            "2026-06-01 09:00",
        ),
        e(
            ev.LiaisonAssigned(
                leader_id="L2", agency_branch_id="b1", village_branch="东门村党支部"
            ),
            "2026-06-01 09:00",
        ),
        e(ev.VisitMade(visit_id="lv1", member_id="L1", kind="liaison"), "2026-08-08 10:00"),
        e.violation("v1", "M1", "2026-08-01 10:00"),
        e(
            ev.TalkHeld(talk_id="t1", host_id="M2", member_id="M1", category="member"),
            "2026-08-05 10:00",
        ),
        e(
            ev.TalkHeld(talk_id="t2", host_id="L1", member_id="M2", category="youth"),
            "2026-09-05 10:00",
        ),
        e.violation("v2", "M2", "2026-09-20 10:00"),
        e.violation("v3", "M1", "2026-09-28 10:00"),
        e.retraction("v3", "2026-09-29 10:00"),
        e.violation("v4", "M1", "2026-09-29 10:00"),
        e(
            ev.SuggestionSubmitted(
                suggestion_id="s1", department_id="d1", topic="营商环境", text="…"
            ),
            "2026-07-01 10:00",
        ),
        e(
            ev.SuggestionSubmitted(suggestion_id="s2", department_id="d1", topic="预算", text="…"),
            "2026-07-02 10:00",
        ),
        e(ev.SuggestionAdopted(suggestion_id="s1"), "2026-07-10 10:00"),
        e(
            ev.WorkplanAdopted(
                plan_id="p1", suggestion_id="s1", department_id="d1", title="拨付流程再造"
            ),
            "2026-07-20 10:00",
        ),
        e(
            ev.WorkplanAdopted(
                plan_id="p2", suggestion_id="s1", department_id="d1", title="惠企资金直达"
            ),
            "2026-07-21 10:00",
        ),
        e.community_visit("M1", "2026-07-03 10:00"),
        e.community_visit("M1", "2026-08-03 10:00"),
        e.community_visit("M2", "2026-08-04 10:00"),
        e(
            ev.VolunteerLogged(activity_id="a1", member_id="M1", minutes=120, title="义诊"),
            "2026-07-12 10:00",
        ),
        e(
            ev.VolunteerLogged(activity_id="a2", member_id="M2", minutes=90, title="扫雪"),
            "2026-08-12 10:00",
        ),
    ]
