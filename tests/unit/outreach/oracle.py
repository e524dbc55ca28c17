"""The outreach views as they were computed before they were kept incrementally (issue 21):
every view folded again from the whole state at each refresh, lines included. Slow (each pairing scans every
visit) but plainly right: the oracle the incremental views are checked against."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.outreach_views import (
    BODY_OF_VIEW,
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
    ViewBody,
)
from mingdeng.contracts.periods import Period, Quarter
from mingdeng.contracts.registry import REGISTRY_EVENTS, Pairing, Registry, Stamp
from mingdeng.outreach.domain.views import ViewRef

OVERDUE_AFTER = timedelta(days=60)
REMIND_EVERY = timedelta(days=14)


@dataclass
class OutreachState:
    registry: Registry = field(default_factory=Registry)
    household_visits: dict[str, tuple[datetime, str, str]] = field(
        default_factory=dict
    )  # id -> (t, m, h)
    community_visits: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    liaison_visits: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    liaisons: dict[str, tuple[datetime, ev.LiaisonAssigned]] = field(default_factory=dict)
    volunteering: dict[tuple[str, str], tuple[datetime, int]] = field(default_factory=dict)
    talks: dict[str, tuple[datetime, ev.TalkHeld]] = field(default_factory=dict)
    suggestions: dict[str, ev.SuggestionSubmitted] = field(default_factory=dict)
    adopted: set[str] = field(default_factory=set)
    workplans: dict[str, ev.WorkplanAdopted] = field(default_factory=dict)

    def apply(self, event: Event[EventData]) -> bool:
        """Take in an event of a type outreach reads (`READS`); False (and nothing changed)
        for any other."""
        fold = _FOLDS.get(type(event.data))
        if fold is None:
            return False
        fold(self, event.data, Stamp.of(event))
        return True

    def _registered(self, data: EventData, stamp: Stamp) -> None:
        self.registry.apply(stamp, data)

    def _visit_made(self, data: ev.VisitMade, stamp: Stamp) -> None:
        at = stamp.time
        if data.kind == "household":
            assert data.household_id is not None
            self.household_visits[data.visit_id] = (at, data.member_id, data.household_id)
        elif data.kind == "community":
            self.community_visits[data.visit_id] = (at, data.member_id)
        elif data.kind == "liaison":
            self.liaison_visits[data.visit_id] = (at, data.member_id)
        # commendation visits: the notifier's commendation tasks read them

    def _liaison_assigned(self, data: ev.LiaisonAssigned, stamp: Stamp) -> None:
        assigned = self.liaisons.get(data.leader_id)
        if assigned is None or assigned[0] <= stamp.time:
            self.liaisons[data.leader_id] = (stamp.time, data)

    def _volunteered(self, data: ev.VolunteerLogged, stamp: Stamp) -> None:
        self.volunteering[(data.member_id, data.activity_id)] = (stamp.time, data.minutes)

    def _talk_held(self, data: ev.TalkHeld, stamp: Stamp) -> None:
        self.talks[data.talk_id] = (stamp.time, data)

    def _suggestion_submitted(self, data: ev.SuggestionSubmitted, stamp: Stamp) -> None:
        self.suggestions[data.suggestion_id] = data

    def _suggestion_adopted(self, data: ev.SuggestionAdopted, stamp: Stamp) -> None:
        self.adopted.add(data.suggestion_id)

    def _workplan_adopted(self, data: ev.WorkplanAdopted, stamp: Stamp) -> None:
        self.workplans[data.plan_id] = data

    # --- registry views -----------------------------------------------------------------

    @property
    def members(self) -> dict[str, ev.MemberRegistered]:
        """Every member's newest registration, active or not."""
        return {member_id: entry[1] for member_id, entry in self.registry.members.items()}

    @property
    def households(self) -> dict[str, ev.HouseholdRegistered]:
        return {key: entry[1] for key, entry in self.registry.households.items()}

    @property
    def departures(self) -> dict[str, datetime]:
        return {member_id: stamp.time for member_id, stamp in self.registry.departures.items()}

    @property
    def pairing_changes(self) -> dict[tuple[str, str], list[tuple[datetime, bool]]]:
        """(household, member) -> [(time, paired?)], oldest first."""
        return {
            pair: [(stamp.time, paired) for stamp, paired in self.registry.pairing_changes(*pair)]
            for pair in self.registry.pairings
        }

    def is_active(self, member_id: str) -> bool:
        return self.registry.is_active(member_id)

    def branch_of(self, member_id: str) -> str | None:
        department = self.registry.department_of(member_id)
        return department.branch_id if department else None

    def paired_at(self, household_id: str, member_id: str, moment: datetime) -> bool:
        return self.registry.paired_at(household_id, member_id, moment)

    def pairings_at(self, moment: datetime) -> list[Pairing]:
        """Pairings in force at `moment` of registered households and active members."""
        return self.registry.pairings_at(moment)

    def last_visit(self, pairing: Pairing, before: datetime) -> datetime | None:
        visits = [
            t
            for t, member_id, household_id in self.household_visits.values()
            if member_id == pairing.member_id
            and household_id == pairing.household_id
            and t <= before
            and self.paired_at(household_id, member_id, t)
        ]
        return max(visits, default=None)


# The event types outreach reads, each with the one method that folds it.
_FOLDS: dict[type[EventData], Callable[[OutreachState, Any, Stamp], None]] = {
    **{kind: OutreachState._registered for kind in REGISTRY_EVENTS},
    ev.VisitMade: OutreachState._visit_made,
    ev.LiaisonAssigned: OutreachState._liaison_assigned,
    ev.VolunteerLogged: OutreachState._volunteered,
    ev.TalkHeld: OutreachState._talk_held,
    ev.SuggestionSubmitted: OutreachState._suggestion_submitted,
    ev.SuggestionAdopted: OutreachState._suggestion_adopted,
    ev.WorkplanAdopted: OutreachState._workplan_adopted,
}
READS: tuple[type[EventData], ...] = tuple(_FOLDS)


def fold(events: Iterable[Event[EventData]]) -> OutreachState:
    state = OutreachState()
    for event in events:
        state.apply(event)
    return state


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def coverage(
    state: OutreachState, period: Period, now: datetime
) -> tuple[Coverage, list[MemberCoverage]]:
    """Pairings in force at the end of the period (or now, if it is running) and how many of
    them the paired member visited during the period, while paired; and each member's line."""
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
    summary = Coverage(
        period=period.name,
        as_of=moment,
        pairings=total,
        visited=seen_total,
        rate=_rate(seen_total, total),
        by_department=[
            DepartmentCoverage(department_id=d, pairings=p, visited=s, rate=_rate(s, p))
            for d, (p, s) in sorted(by_department.items())
        ],
        by_branch=[
            BranchCoverage(branch_id=b, pairings=p, visited=s, rate=_rate(s, p))
            for b, (p, s) in sorted(by_branch.items())
        ],
    )
    return summary, members


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


def all_views(state: OutreachState, now: datetime) -> dict[str, str]:
    """Every view the service published at `now` (key -> body JSON), as its refresh did, and
    every line with something to show."""
    found: dict[str, ViewBody] = {}
    for period in active_periods(state, now):
        found[f"coverage/{period.name}"], members = coverage(state, period, now)
        for member in members:
            found[ViewRef("coverage_member", period.name, member.member_id).key] = member
        found[f"talks/{period.name}"] = talks(state, period)
        found[f"community/{period.name}"] = community(state, period)
        if "Q" in period.name:
            found[f"liaison/{period.name}"] = liaison(state, Quarter.parse(period.name), now)
    for item in overdue(state, now):
        line = ViewRef("overdue_pairing", member_id=item.member_id, household_id=item.household_id)
        found[line.key] = item
    for household in reassignment(state, now):
        found[ViewRef("unpaired_household", household_id=household.household_id).key] = household
    found["suggestions"] = suggestions(state)
    for member_id in sorted({m for (_, m) in state.pairing_changes}):
        found[f"households/{member_id}"] = member_households(state, member_id, now)
    return {
        key: BODY_OF_VIEW[key.split("/")[0]].dump_json(body).decode() for key, body in found.items()
    }
