"""Outreach (SPEC §2, §5): pairings, visits, coverage, overdue pairings, liaison, talks,
suggestions, community reporting. Pure: the clock is an argument, never read here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.registry import REGISTRY_EVENTS, Pairing, Registry, Stamp

OVERDUE_AFTER = timedelta(days=60)
REMIND_EVERY = timedelta(days=14)
TALK_DUE_AFTER = timedelta(days=7)


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

    def _violation_logged(self, data: ev.ViolationLogged, stamp: Stamp) -> None:
        self.violations[data.violation_id] = (stamp.time, data.member_id)

    def _violation_retracted(self, data: ev.ViolationRetracted, stamp: Stamp) -> None:
        self.retracted.add(data.violation_id)

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
    ev.ViolationLogged: OutreachState._violation_logged,
    ev.ViolationRetracted: OutreachState._violation_retracted,
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
