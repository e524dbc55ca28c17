"""Outreach (SPEC §2, §5): the facts outreach folds from events, indexed so that a view reads
what concerns it and never the whole history. Pure: the clock is an argument, never read here.

Each fold also notes what it touched (`Touched`): the views layer (`views.py`) turns that into
the rows and views to compute again.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.contracts.registry import REGISTRY_EVENTS, Registry, Stamp

OVERDUE_AFTER = timedelta(days=60)
REMIND_EVERY = timedelta(days=14)

PairKey = tuple[str, str]  # (household, member)
PairingChange = tuple[Stamp, bool]  # when, and paired?


def periods_of(moment: datetime) -> tuple[str, str]:
    """The quarter and the month a moment falls in, in business time."""
    quarter = Quarter.of(moment)
    local = moment.astimezone(BUSINESS_TZ)
    return str(quarter), f"{local.year:04d}-{local.month:02d}"


def _change_time(change: PairingChange) -> datetime:
    return change[0].time


def _count(counter: Counter[str], key: str, delta: int) -> None:
    """Add to a tally, dropping a key that falls to zero (a tally's keys are those counted)."""
    value = counter[key] + delta
    if value:
        counter[key] = value
    else:
        del counter[key]


@dataclass
class Touched:
    """What folds changed since it was last taken, in the terms the views are computed in."""

    members: set[str] = field(default_factory=set)  # the member's pairings, in every period
    households: set[str] = field(default_factory=set)  # the household's pairings
    pairings: set[tuple[PairKey, datetime]] = field(default_factory=set)  # changed from then on
    pairs: set[PairKey] = field(default_factory=set)  # one pairing's visits
    rows: set[tuple[str, str]] = field(default_factory=set)  # (period, member) coverage rows
    tallies: set[str] = field(default_factory=set)  # periods whose talks/community/liaison moved
    departments: set[str] = field(default_factory=set)  # a department's branch
    liaisons: bool = False
    suggestions: bool = False


@dataclass
class PeriodTally:
    """The counts of a quarter or month, kept as the events arrive."""

    activity: int = 0  # visits, talks and volunteering dated in it: a period with none is idle
    talks: Counter[str] = field(default_factory=Counter)  # by category
    community_reports: Counter[str] = field(default_factory=Counter)  # by member
    volunteering: Counter[str] = field(default_factory=Counter)  # person-times by member
    volunteer_minutes: int = 0
    liaison_visits: Counter[str] = field(default_factory=Counter)  # by leader


def _community_reports(tally: PeriodTally) -> Counter[str]:
    return tally.community_reports


def _liaison_visits(tally: PeriodTally) -> Counter[str]:
    return tally.liaison_visits


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
    workplans: set[str] = field(default_factory=set)
    # --- indexes ----------------------------------------------------------------------------
    visit_times: dict[PairKey, list[datetime]] = field(default_factory=dict)  # sorted
    changes: dict[PairKey, list[PairingChange]] = field(default_factory=dict)  # by stamp
    households_of: dict[str, set[str]] = field(default_factory=dict)  # member -> ever paired
    department_members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    tallies: dict[str, PeriodTally] = field(default_factory=lambda: defaultdict(PeriodTally))
    suggestions_by: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )  # ("department" | "topic", key) -> [submitted, adopted]
    touched: Touched = field(default_factory=Touched)

    def apply(self, event: Event[EventData]) -> bool:
        """Take in an event of a type outreach reads (`READS`); False (and nothing changed)
        for any other."""
        fold = _FOLDS.get(type(event.data))
        if fold is None:
            return False
        fold(self, event.data, Stamp.of(event))
        return True

    def take_touched(self) -> Touched:
        touched, self.touched = self.touched, Touched()
        return touched

    # --- the folds, one per event type --------------------------------------------------------

    def _registered(self, data: EventData, stamp: Stamp) -> None:
        if isinstance(data, ev.MemberRegistered):
            before = self.registry.member(data.member_id)
            self.registry.apply(stamp, data)
            after = self.registry.member(data.member_id)
            if before is not None and after is not None:
                self.department_members[before.department_id].discard(data.member_id)
            if after is not None:
                self.department_members[after.department_id].add(data.member_id)
            self.touched.members.add(data.member_id)
            self.touched.liaisons |= data.member_id in self.liaisons  # a leader's name
            return
        self.registry.apply(stamp, data)
        match data:
            case ev.MemberLeft():
                self.touched.members.add(data.member_id)
            case ev.HouseholdRegistered():
                self.touched.households.add(data.household_id)
            case ev.HouseholdPaired() | ev.HouseholdUnpaired():
                self._pairing(data.household_id, data.member_id, stamp, self.registry)
            case ev.DepartmentRegistered():
                self.touched.departments.add(data.department_id)
            case ev.BranchRegistered():
                pass  # no view shows a branch's own registration, only the department's branch

    def _pairing(self, household_id: str, member_id: str, stamp: Stamp, registry: Registry) -> None:
        pair = (household_id, member_id)
        changes = self.changes.setdefault(pair, [])
        paired = registry.pairings[pair][stamp]
        if (stamp, paired) not in changes:
            insort(changes, (stamp, paired))
        self.households_of.setdefault(member_id, set()).add(household_id)
        self.touched.pairings.add((pair, stamp.time))

    def _visit_made(self, data: ev.VisitMade, stamp: Stamp) -> None:
        at = stamp.time
        if data.kind == "household":
            assert data.household_id is not None
            old = self.household_visits.get(data.visit_id)
            if old is not None:
                t, member_id, household_id = old
                times = self.visit_times[(household_id, member_id)]
                del times[bisect_left(times, t)]
                self._household_visit_touched(t, member_id, household_id, -1)
            self.household_visits[data.visit_id] = (at, data.member_id, data.household_id)
            insort(self.visit_times.setdefault((data.household_id, data.member_id), []), at)
            self._household_visit_touched(at, data.member_id, data.household_id, 1)
        elif data.kind == "community":
            self._tallied_visit(self.community_visits, data, at, _community_reports)
        elif data.kind == "liaison":
            self._tallied_visit(self.liaison_visits, data, at, _liaison_visits)
        # commendation visits: the notifier's commendation tasks read them

    def _household_visit_touched(
        self, at: datetime, member_id: str, household_id: str, delta: int
    ) -> None:
        self.touched.pairs.add((household_id, member_id))
        for period in periods_of(at):
            self.tallies[period].activity += delta
            self.touched.rows.add((period, member_id))

    def _tallied_visit(
        self,
        visits: dict[str, tuple[datetime, str]],
        data: ev.VisitMade,
        at: datetime,
        tally: Callable[[PeriodTally], Counter[str]],
    ) -> None:
        old = visits.get(data.visit_id)
        if old is not None:
            self._tally_visit(old[0], old[1], tally, -1)
        visits[data.visit_id] = (at, data.member_id)
        self._tally_visit(at, data.member_id, tally, 1)

    def _tally_visit(
        self,
        at: datetime,
        member_id: str,
        tally: Callable[[PeriodTally], Counter[str]],
        delta: int,
    ) -> None:
        for period in periods_of(at):
            counts = self.tallies[period]
            counts.activity += delta
            _count(tally(counts), member_id, delta)
            self.touched.tallies.add(period)

    def _liaison_assigned(self, data: ev.LiaisonAssigned, stamp: Stamp) -> None:
        assigned = self.liaisons.get(data.leader_id)
        if assigned is None or assigned[0] <= stamp.time:
            self.liaisons[data.leader_id] = (stamp.time, data)
            self.touched.liaisons = True

    def _volunteered(self, data: ev.VolunteerLogged, stamp: Stamp) -> None:
        key = (data.member_id, data.activity_id)
        old = self.volunteering.get(key)
        if old is not None:
            self._tally_volunteering(old[0], data.member_id, old[1], -1)
        self.volunteering[key] = (stamp.time, data.minutes)
        self._tally_volunteering(stamp.time, data.member_id, data.minutes, 1)

    def _tally_volunteering(self, at: datetime, member_id: str, minutes: int, delta: int) -> None:
        for period in periods_of(at):
            counts = self.tallies[period]
            counts.activity += delta
            _count(counts.volunteering, member_id, delta)
            counts.volunteer_minutes += delta * minutes
            self.touched.tallies.add(period)

    def _talk_held(self, data: ev.TalkHeld, stamp: Stamp) -> None:
        old = self.talks.get(data.talk_id)
        if old is not None:
            self._tally_talk(old[0], old[1].category, -1)
        self.talks[data.talk_id] = (stamp.time, data)
        self._tally_talk(stamp.time, data.category, 1)

    def _tally_talk(self, at: datetime, category: str, delta: int) -> None:
        for period in periods_of(at):
            counts = self.tallies[period]
            counts.activity += delta
            _count(counts.talks, category, delta)
            self.touched.tallies.add(period)

    def _suggestion_submitted(self, data: ev.SuggestionSubmitted, stamp: Stamp) -> None:
        old = self.suggestions.get(data.suggestion_id)
        if old is not None:
            self._tally_suggestion(old, -1)
        self.suggestions[data.suggestion_id] = data
        self._tally_suggestion(data, 1)

    def _tally_suggestion(self, suggestion: ev.SuggestionSubmitted, delta: int) -> None:
        adopted = suggestion.suggestion_id in self.adopted
        for key in (("department", suggestion.department_id), ("topic", suggestion.topic)):
            counts = self.suggestions_by[key]
            counts[0] += delta
            counts[1] += delta * adopted
            if counts[0] == 0:
                del self.suggestions_by[key]
        self.touched.suggestions = True

    def _suggestion_adopted(self, data: ev.SuggestionAdopted, stamp: Stamp) -> None:
        if data.suggestion_id in self.adopted:
            return
        suggestion = self.suggestions.get(data.suggestion_id)
        if suggestion is not None:
            self._tally_suggestion(suggestion, -1)
        self.adopted.add(data.suggestion_id)
        if suggestion is not None:
            self._tally_suggestion(suggestion, 1)

    def _workplan_adopted(self, data: ev.WorkplanAdopted, stamp: Stamp) -> None:
        self.workplans.add(data.plan_id)
        self.touched.suggestions = True

    # --- reading ------------------------------------------------------------------------------

    def branch_of(self, member_id: str) -> str | None:
        department = self.registry.department_of(member_id)
        return department.branch_id if department else None

    def paired_at(self, pair: PairKey, moment: datetime) -> bool:
        """Whether the newest change of the pairing at or before `moment` paired them."""
        changes = self.changes.get(pair)
        if not changes:
            return False
        newest = bisect_right(changes, moment, key=_change_time)
        return newest > 0 and changes[newest - 1][1]

    def in_force(self, pair: PairKey, moment: datetime) -> datetime | None:
        """When the pairing was made, if it is in force at `moment` with the household
        registered and the member active (as `Registry.pairings_at`)."""
        changes = self.changes.get(pair)
        if not changes:
            return None
        newest = bisect_right(changes, moment, key=_change_time)
        if newest == 0 or not changes[newest - 1][1]:
            return None
        household_id, member_id = pair
        if household_id not in self.registry.households or not self.registry.is_active(member_id):
            return None
        return changes[newest - 1][0].time

    def last_visit(self, pair: PairKey, since: datetime | None, until: datetime) -> datetime | None:
        """The newest visit of the pairing's member to its household from `since` (if given)
        until `until`, made while they were paired."""
        times = self.visit_times.get(pair)
        if not times:
            return None
        first = 0 if since is None else bisect_left(times, since)
        for index in range(bisect_right(times, until) - 1, first - 1, -1):
            if self.paired_at(pair, times[index]):
                return times[index]
        return None

    def members_paired_with(self, household_id: str) -> set[str]:
        return self.registry.members_paired_with.get(household_id, set())


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
