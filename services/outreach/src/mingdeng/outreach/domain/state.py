"""Outreach (SPEC §2, §5): pairings, visits, coverage, overdue pairings, liaison, talks,
suggestions, community reporting. Pure: the clock is an argument, never read here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

OVERDUE_AFTER = timedelta(days=60)
REMIND_EVERY = timedelta(days=14)
TALK_DUE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    """A quarter (`2026Q4`) or a month (`2026-11`) in business time."""

    name: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str) -> Period:
        if "Q" in text:
            quarter = Quarter.parse(text)
            return cls(text, quarter.start, quarter.end)
        year, month = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-" or not 1 <= month <= 12:
            raise ValueError(f"not a quarter like 2026Q4 or a month like 2026-11: {text!r}")
        start = datetime(year, month, 1, tzinfo=BUSINESS_TZ)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BUSINESS_TZ)
        return cls(text, start, end)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str
    department_id: str
    roles: tuple[str, ...]
    registered_at: datetime


@dataclass(frozen=True)
class Pairing:
    household_id: str
    member_id: str
    paired_at: datetime


@dataclass
class OutreachState:
    members: dict[str, Member] = field(default_factory=dict)
    departures: dict[str, datetime] = field(default_factory=dict)
    departments: dict[str, ev.DepartmentRegistered] = field(default_factory=dict)
    department_stamp: dict[str, datetime] = field(default_factory=dict)
    households: dict[str, ev.HouseholdRegistered] = field(default_factory=dict)
    # (household, member) -> [(time, paired?)]
    pairing_changes: dict[tuple[str, str], list[tuple[datetime, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    household_visits: dict[str, tuple[datetime, str, str]] = field(
        default_factory=dict
    )  # id -> (t, m, h)
    community_visits: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    liaison_visits: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    liaisons: dict[str, tuple[datetime, ev.LiaisonAssigned]] = field(default_factory=dict)
    volunteering: dict[tuple[str, str], tuple[datetime, int]] = field(default_factory=dict)
    talks: dict[str, tuple[datetime, ev.TalkHeld]] = field(default_factory=dict)
    violations: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # id -> (t, member)
    retracted: set[str] = field(default_factory=set)
    suggestions: dict[str, ev.SuggestionSubmitted] = field(default_factory=dict)
    adopted: set[str] = field(default_factory=set)

    def apply(self, event: Event[EventData]) -> None:
        data, at = event.data, event.time
        match data:
            case ev.MemberRegistered():
                current = self.members.get(data.member_id)
                if current is None or current.registered_at <= at:
                    self.members[data.member_id] = Member(
                        data.member_id, data.name, data.department_id, tuple(data.roles), at
                    )
            case ev.MemberLeft():
                self.departures[data.member_id] = max(at, self.departures.get(data.member_id, at))
            case ev.DepartmentRegistered():
                if self.department_stamp.get(data.department_id, at) <= at:
                    self.departments[data.department_id] = data
                    self.department_stamp[data.department_id] = at
            case ev.HouseholdRegistered():
                self.households[data.household_id] = data
            case ev.HouseholdPaired() | ev.HouseholdUnpaired():
                change = (at, isinstance(data, ev.HouseholdPaired))
                changes = self.pairing_changes[(data.household_id, data.member_id)]
                if change not in changes:
                    changes.append(change)
                    changes.sort()
            case ev.VisitMade(kind="household"):
                assert data.household_id is not None
                self.household_visits[data.visit_id] = (at, data.member_id, data.household_id)
            case ev.VisitMade(kind="community"):
                self.community_visits[data.visit_id] = (at, data.member_id)
            case ev.VisitMade(kind="liaison"):
                self.liaison_visits[data.visit_id] = (at, data.member_id)
            case ev.LiaisonAssigned():
                assigned = self.liaisons.get(data.leader_id)
                if assigned is None or assigned[0] <= at:
                    self.liaisons[data.leader_id] = (at, data)
            case ev.VolunteerLogged():
                self.volunteering[(data.member_id, data.activity_id)] = (at, data.minutes)
            case ev.TalkHeld():
                self.talks[data.talk_id] = (at, data)
            case ev.ViolationLogged():
                self.violations[data.violation_id] = (at, data.member_id)
            case ev.ViolationRetracted():
                self.retracted.add(data.violation_id)
            case ev.SuggestionSubmitted():
                self.suggestions[data.suggestion_id] = data
            case ev.SuggestionAdopted():
                self.adopted.add(data.suggestion_id)
            case _:
                pass  # not an outreach event

    # --- registry views -----------------------------------------------------------------

    def is_active(self, member_id: str) -> bool:
        member = self.members.get(member_id)
        departure = self.departures.get(member_id)
        return member is not None and (departure is None or departure < member.registered_at)

    def branch_of(self, member_id: str) -> str | None:
        member = self.members.get(member_id)
        department = self.departments.get(member.department_id) if member else None
        return department.branch_id if department else None

    def paired_at(self, household_id: str, member_id: str, moment: datetime) -> bool:
        changes = [
            c for c in self.pairing_changes.get((household_id, member_id), []) if c[0] <= moment
        ]
        return bool(changes) and changes[-1][1]

    def pairings_at(self, moment: datetime) -> list[Pairing]:
        """Pairings in force at `moment` of registered households and active members."""
        found = []
        for (household_id, member_id), changes in sorted(self.pairing_changes.items()):
            before = [c for c in changes if c[0] <= moment]
            if (
                before
                and before[-1][1]
                and household_id in self.households
                and self.is_active(member_id)
            ):
                paired_at = max(t for t, paired in before if paired)
                found.append(Pairing(household_id, member_id, paired_at))
        return found

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


def fold(events: Iterable[Event[EventData]]) -> OutreachState:
    state = OutreachState()
    for event in events:
        state.apply(event)
    return state
