"""The scoring engine: takes events one at a time, in any order, and keeps every quarter's
standings. Closing a quarter freezes its standings; later events for it are kept as late."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import INDEX_KPI_SUBJECT, EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.facts import (
    Branch,
    Delivery,
    Department,
    EventRef,
    Facts,
    HouseholdVisit,
    Kpi,
    Member,
    Stamp,
    Violation,
)
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.domain.standings import (
    QuarterStandings,
    TopTen,
    compute_standings,
    compute_top_ten,
)

OutcomeStatus = Literal["applied", "duplicate", "late", "rejected"]
MASTER_DATA = (
    ev.BranchRegistered,
    ev.DepartmentRegistered,
    ev.MemberRegistered,
    ev.MemberLeft,
    ev.HouseholdRegistered,
    ev.HouseholdPaired,
    ev.HouseholdUnpaired,
)


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    quarters: frozenset[Quarter] = frozenset()  # whose standings may have changed
    reason: str | None = None
    late_for: Quarter | None = None
    closed: Quarter | None = None


@dataclass(frozen=True)
class LateEvent:
    ref: EventRef
    type: str
    time: datetime


class ScoringEngine:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.facts = Facts()
        self.finals: dict[Quarter, QuarterStandings] = {}
        self.final_top_ten: dict[int, TopTen] = {}
        self.late: dict[Quarter, list[LateEvent]] = defaultdict(list)
        self.seen: set[EventRef] = set()
        self._active_quarters: set[Quarter] = set()

    # --- taking events in ---------------------------------------------------------------

    def apply(self, event: Event[EventData]) -> Outcome:
        if event.key in self.seen:
            return Outcome("duplicate")
        self.seen.add(event.key)
        data, stamp = event.data, Stamp(event.time, event.source, event.id)

        if isinstance(data, ev.QuarterClosed):
            return self._close(Quarter.parse(data.quarter), event.time)
        if isinstance(data, MASTER_DATA):
            self._record(data, stamp)
            return Outcome("applied", frozenset(self.open_quarters()))
        quarter = self._quarter_of(data, stamp)
        if (
            quarter is None
        ):  # no quarter yet (a retraction before its violation) or no index reads it
            self._record(data, stamp)
            return Outcome("applied")
        if quarter in self.finals:
            self.late[quarter].append(LateEvent(event.key, event.type, event.time))
            return Outcome("late", late_for=quarter, reason=f"{quarter} is closed")
        self._record(data, stamp)
        self._active_quarters.add(quarter)
        return Outcome("applied", frozenset({quarter}))

    def restore(self, event: Event[EventData], late_for: Quarter | None) -> None:
        """Take an event back in as it was first taken, without judging it again (on recovery)."""
        self.seen.add(event.key)
        stamp = Stamp(event.time, event.source, event.id)
        if late_for is not None:
            self.late[late_for].append(LateEvent(event.key, event.type, event.time))
        elif not isinstance(event.data, ev.QuarterClosed):
            quarter = self._quarter_of(event.data, stamp)
            self._record(event.data, stamp)
            if quarter is not None:
                self._active_quarters.add(quarter)

    def restore_final(self, standings: QuarterStandings, top_ten: TopTen | None) -> None:
        self.finals[standings.quarter] = standings
        self._active_quarters.add(standings.quarter)
        if top_ten is not None:
            self.final_top_ten[top_ten.year] = top_ten

    # --- reading ------------------------------------------------------------------------

    def standings(self, quarter: Quarter) -> QuarterStandings:
        return self.finals.get(quarter) or compute_standings(self.facts, quarter, self.rules)

    def top_ten(self, year: int) -> TopTen:
        if year in self.final_top_ten:
            return self.final_top_ten[year]
        return self._compute_top_ten(year, "provisional")

    def quarters(self) -> list[Quarter]:
        """Every quarter that has activity or has been closed."""
        return sorted(self._active_quarters)

    def open_quarters(self) -> list[Quarter]:
        return [q for q in self.quarters() if q not in self.finals]

    def quarters_due_to_close(self, now: datetime, running_since: datetime) -> list[Quarter]:
        """Quarters that ended while the platform ran and ended `close_after_days` ago."""
        delay = timedelta(days=self.rules.selections.close_after_days)
        due, quarter = [], Quarter.of(running_since)
        while quarter.end + delay <= now:
            if quarter.end > running_since and quarter not in self.finals:
                due.append(quarter)
            quarter = quarter.next()
        return due

    # --- internals ----------------------------------------------------------------------

    def _close(self, quarter: Quarter, at: datetime) -> Outcome:
        if quarter in self.finals:
            return Outcome("applied", reason=f"{quarter} was already closed")
        if at < quarter.end:
            return Outcome(
                "rejected",
                reason=f"{quarter} has not ended yet; it can be closed from {quarter.end.date()}",
            )
        self.finals[quarter] = compute_standings(self.facts, quarter, self.rules).finalised()
        self._active_quarters.add(quarter)
        if quarter.number == 4:
            self.final_top_ten[quarter.year] = self._compute_top_ten(quarter.year, "final")
        return Outcome("applied", frozenset({quarter}), closed=quarter)

    def _compute_top_ten(self, year: int, status: Literal["provisional", "final"]) -> TopTen:
        quarters = {q: self.standings(q) for q in self.quarters() if q.year == year}
        last = max(quarters) if quarters else Quarter(year, 4)
        candidates = self.standings(last).members
        return compute_top_ten(year, quarters, candidates, self.rules, status)

    def _quarter_of(self, data: EventData, stamp: Stamp) -> Quarter | None:
        """The quarter whose indices this event changes; None for events no index reads."""
        match data:
            case (
                ev.LectureDelivered() | ev.ViolationLogged() | ev.VisitMade() | ev.VolunteerLogged()
            ):
                return Quarter.of(stamp.time)
            case ev.LectureAttended():
                delivery = self.facts.deliveries.get(data.lecture_id)
                return Quarter.of((delivery.stamp if delivery else stamp).time)
            case ev.ViolationRetracted():
                violation = self.facts.violations.get(data.violation_id)
                return Quarter.of(violation.stamp.time) if violation else None
            case ev.KpiReported() if data.metric in INDEX_KPI_SUBJECT:
                return Quarter.parse(data.period)
        return None

    def _record(self, data: EventData, stamp: Stamp) -> None:
        facts = self.facts
        match data:
            case ev.BranchRegistered():
                facts.register_branch(stamp, Branch(data.branch_id, data.name))
            case ev.DepartmentRegistered():
                facts.register_department(
                    stamp, Department(data.department_id, data.name, data.branch_id, data.leader_id)
                )
            case ev.MemberRegistered():
                facts.register_member(
                    stamp, Member(data.member_id, data.name, data.department_id, data.party_member)
                )
            case ev.MemberLeft():
                facts.member_left(stamp, data.member_id)
            case ev.HouseholdRegistered():
                facts.register_household(data.household_id)
            case ev.HouseholdPaired() | ev.HouseholdUnpaired():
                paired = isinstance(data, ev.HouseholdPaired)
                facts.set_pairing(stamp, data.household_id, data.member_id, paired)
            case ev.LectureDelivered():
                facts.deliver_lecture(Delivery(data.lecture_id, data.speaker_id, stamp))
            case ev.LectureAttended():
                facts.attend(stamp, data.lecture_id, data.member_id)
            case ev.ViolationLogged():
                facts.log_violation(Violation(data.violation_id, data.member_id, data.rule, stamp))
            case ev.ViolationRetracted():
                facts.retract_violation(stamp, data.violation_id)
            case ev.VisitMade(kind="household"):
                assert data.household_id is not None
                facts.visit_household(
                    Quarter.of(stamp.time),
                    data.member_id,
                    data.visit_id,
                    HouseholdVisit(data.household_id, stamp),
                )
            case ev.VisitMade(kind="community"):
                facts.visit_community(Quarter.of(stamp.time), data.member_id, data.visit_id, stamp)
            case ev.VolunteerLogged():
                facts.volunteer(Quarter.of(stamp.time), data.member_id, data.activity_id, stamp)
            case ev.KpiReported() if data.metric in INDEX_KPI_SUBJECT:
                facts.report_kpi(
                    Quarter.parse(data.period),
                    (data.subject_type, data.subject_id, data.metric),
                    Kpi(data.value, stamp),
                )
            case _:
                pass  # read by other services, not by any index
