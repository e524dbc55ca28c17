"""Read models of outreach, computed from the state at a given moment (models of the contracts)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from mingdeng.contracts.outreach_views import (
    BranchCoverage,
    Community,
    Coverage,
    DepartmentCoverage,
    DepartmentSuggestions,
    LeaderLiaison,
    Liaison,
    MemberCoverage,
    MemberHouseholds,
    OverduePairing,
    PairedHousehold,
    PairingChange,
    Suggestions,
    Talks,
    TalksByCategory,
    TopicSuggestions,
    UnpairedHousehold,
)
from mingdeng.contracts.periods import Period, Quarter
from mingdeng.contracts.registry import Pairing
from mingdeng.outreach.domain.state import OVERDUE_AFTER, REMIND_EVERY, OutreachState


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def coverage(state: OutreachState, period: Period, now: datetime) -> Coverage:
    """Pairings in force at the end of the period (or now, if it is running) and how many of
    them the paired member visited during the period, while paired."""
    moment = min(period.end - timedelta(microseconds=1), now)
    pairings = state.pairings_at(moment)
    visited = {
        (h, m)
        for t, m, h in state.household_visits.values()
        if period.contains(t) and t <= moment and state.paired_at(h, m, t)
    }
    by_member: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pairing in pairings:
        counts = by_member[pairing.member_id]
        counts[0] += 1
        counts[1] += (pairing.household_id, pairing.member_id) in visited
    members = []
    by_department: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_branch: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for member_id, (paired, seen) in sorted(by_member.items()):
        member = state.members[member_id]
        branch = state.branch_of(member_id)
        members.append(
            MemberCoverage(
                member_id=member_id,
                name=member.name,
                department_id=member.department_id,
                branch_id=branch,
                pairings=paired,
                visited=seen,
                rate=_rate(seen, paired),
            )
        )
        for bucket, key in ((by_department, member.department_id), (by_branch, branch or "")):
            bucket[key][0] += paired
            bucket[key][1] += seen
    total = sum(p for p, _ in by_member.values())
    seen_total = sum(s for _, s in by_member.values())
    return Coverage(
        period=period.name,
        as_of=moment,
        pairings=total,
        visited=seen_total,
        rate=_rate(seen_total, total),
        by_member=members,
        by_department=[
            DepartmentCoverage(department_id=d, pairings=p, visited=s, rate=_rate(s, p))
            for d, (p, s) in sorted(by_department.items())
        ],
        by_branch=[
            BranchCoverage(branch_id=b, pairings=p, visited=s, rate=_rate(s, p))
            for b, (p, s) in sorted(by_branch.items())
        ],
    )


def overdue(state: OutreachState, now: datetime) -> list[OverduePairing]:
    """Pairings whose member has not visited the household for 60 days (or since pairing)."""
    items = []
    for pairing in state.pairings_at(now):
        last = state.last_visit(pairing, now)
        since = max(pairing.paired_at, last) if last else pairing.paired_at
        if now - since >= OVERDUE_AFTER:
            member = state.members[pairing.member_id]
            items.append(
                OverduePairing(
                    household_id=pairing.household_id,
                    member_id=pairing.member_id,
                    department_id=member.department_id,
                    branch_id=state.branch_of(pairing.member_id),
                    paired_at=pairing.paired_at,
                    last_visit_at=last,
                    days_without_visit=(now - since).days,
                )
            )
    return sorted(items, key=lambda i: (-i.days_without_visit, i.member_id, i.household_id))


def reminders_due(
    overdue_items: list[OverduePairing],
    last_reminded: Mapping[tuple[str, str], datetime],
    now: datetime,
) -> list[OverduePairing]:
    """Overdue pairings whose member was not reminded about them in the last 14 days."""
    due = []
    for item in overdue_items:
        reminded = last_reminded.get((item.household_id, item.member_id))
        if reminded is None or now - reminded >= REMIND_EVERY:
            due.append(item)
    return due


def reassignment(state: OutreachState, now: datetime) -> list[UnpairedHousehold]:
    """Registered households without a pairing in force, for an admin to pair again."""
    paired = {p.household_id for p in state.pairings_at(now)}
    items = []
    for household_id, household in sorted(state.households.items()):
        if household_id in paired:
            continue
        changes = sorted(
            (t, member_id, is_paired)
            for (h, member_id), history in state.pairing_changes.items()
            if h == household_id
            for t, is_paired in history
            if t <= now
        )
        reason: Literal["never paired", "unpaired", "member left"]
        if not changes:
            reason, since, previous = "never paired", None, None
        else:
            t, member_id, is_paired = changes[-1]
            reason = "member left" if is_paired else "unpaired"
            since = state.departures.get(member_id, t) if is_paired else t
            previous = member_id
        items.append(
            UnpairedHousehold(
                household_id=household_id,
                village=household.village,
                reason=reason,
                since=since,
                previous_member_id=previous,
            )
        )
    return items


def liaison(state: OutreachState, quarter: Quarter, now: datetime) -> Liaison:
    """Each party-group member's contact points, liaison visits in the quarter, and a flag for
    a leader with none (so far, while the quarter runs)."""
    visits = Counter(
        member_id for t, member_id in state.liaison_visits.values() if quarter.contains(t)
    )
    leaders = []
    for leader_id, (_, assigned) in sorted(state.liaisons.items()):
        member = state.members.get(leader_id)
        leaders.append(
            LeaderLiaison(
                leader_id=leader_id,
                name=member.name if member else None,
                agency_branch_id=assigned.agency_branch_id,
                village_branch=assigned.village_branch,
                liaison_visits=visits[leader_id],
                flagged=visits[leader_id] == 0,
            )
        )
    return Liaison(quarter=str(quarter), quarter_over=quarter.end <= now, leaders=leaders)


def talks(state: OutreachState, period: Period) -> Talks:
    counts = Counter(talk.category for t, talk in state.talks.values() if period.contains(t))
    return Talks(
        period=period.name,
        total=sum(counts.values()),
        by_category=TalksByCategory(
            youth=counts["youth"], leadership=counts["leadership"], member=counts["member"]
        ),
    )


def suggestions(state: OutreachState) -> Suggestions:
    by_department: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_topic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for suggestion_id, suggestion in state.suggestions.items():
        adopted = suggestion_id in state.adopted
        for bucket, key in (
            (by_department, suggestion.department_id),
            (by_topic, suggestion.topic),
        ):
            bucket[key][0] += 1
            bucket[key][1] += adopted
    return Suggestions(
        submitted=len(state.suggestions),
        adopted=len(state.adopted & set(state.suggestions)),
        workplans=len(state.workplans),
        by_department=[
            DepartmentSuggestions(department_id=d, submitted=s, adopted=a)
            for d, (s, a) in sorted(by_department.items())
        ],
        by_topic=[
            TopicSuggestions(topic=t, submitted=s, adopted=a)
            for t, (s, a) in sorted(by_topic.items())
        ],
    )


def community(state: OutreachState, period: Period) -> Community:
    """Members reporting to their residential community, and volunteering, in person-times."""
    reports = [m for t, m in state.community_visits.values() if period.contains(t)]
    volunteering = [
        (member_id, minutes)
        for (member_id, _), (t, minutes) in state.volunteering.items()
        if period.contains(t)
    ]
    return Community(
        period=period.name,
        community_reports=len(reports),
        members_reported=len(set(reports)),
        volunteer_person_times=len(volunteering),
        volunteer_members=len({m for m, _ in volunteering}),
        volunteer_hours=round(sum(minutes for _, minutes in volunteering) / 60, 1),
    )


def member_households(state: OutreachState, member_id: str, now: datetime) -> MemberHouseholds:
    """A member's households (personal data: admin and the member only) and pairing history."""
    current = [p for p in state.pairings_at(now) if p.member_id == member_id]
    history = sorted(
        (t, h, paired)
        for (h, m), changes in state.pairing_changes.items()
        if m == member_id
        for t, paired in changes
    )
    return MemberHouseholds(
        member_id=member_id,
        households=[_household(state, p, now) for p in current],
        history=[PairingChange(household_id=h, at=t, paired=paired) for t, h, paired in history],
    )


def _household(state: OutreachState, pairing: Pairing, now: datetime) -> PairedHousehold:
    household = state.households[pairing.household_id]
    return PairedHousehold(
        household_id=pairing.household_id,
        village=household.village,
        head_name=household.head_name,
        phone=household.phone,
        address=household.address,
        paired_at=pairing.paired_at,
        last_visit_at=state.last_visit(pairing, now),
    )


def active_periods(state: OutreachState, now: datetime) -> list[Period]:
    """Every quarter and month with outreach activity, and the current ones."""
    moments = [now]
    moments += [t for t, _, _ in state.household_visits.values()]
    moments += [t for t, _ in state.community_visits.values()]
    moments += [t for t, _ in state.liaison_visits.values()]
    moments += [t for t, _ in state.talks.values()]
    moments += [t for t, _ in state.volunteering.values()]
    names = set()
    for moment in moments:
        quarter = Quarter.of(moment)
        local = moment.astimezone(quarter.start.tzinfo)
        names |= {str(quarter), f"{local.year:04d}-{local.month:02d}"}
    return [Period.parse(name) for name in sorted(names)]
