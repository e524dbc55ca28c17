"""Outreach (SPEC §2, §5): pairings, visits, coverage, overdue pairings, liaison, talks,
suggestions, community reporting. Pure: the clock is an argument, never read here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.contracts.registry import Pairing, Registry, Stamp

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
    violations: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # id -> (t, member)
    retracted: set[str] = field(default_factory=set)
    suggestions: dict[str, ev.SuggestionSubmitted] = field(default_factory=dict)
    adopted: set[str] = field(default_factory=set)

    def apply(self, event: Event[EventData]) -> None:
        data, at = event.data, event.time
        if self.registry.apply(Stamp.of(event), data):
            return
        match data:
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


def fold(events: Iterable[Event[EventData]]) -> OutreachState:
    state = OutreachState()
    for event in events:
        state.apply(event)
    return state
