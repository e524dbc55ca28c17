"""What scoring knows: the registry (the fold every service shares) and the activity facts
taken from events, kept so that any arrival order gives the same state. Where two events claim
the same thing, the one later in (time, source, id) wins for master data and KPIs, the earlier
one for one-off facts (a lecture's delivery, a violation).

Facts are indexed by member so that one member's index is computed from that member's own facts,
and a closed quarter's activity is dropped (`forget_quarter`): only what tells a later event that
it is late for that quarter is kept."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.registry import Registry, Stamp


@dataclass(frozen=True)
class Delivery:
    lecture_id: str
    speaker_id: str
    stamp: Stamp

    @property
    def quarter(self) -> Quarter:
        return Quarter.of(self.stamp.time)


@dataclass(frozen=True)
class Violation:
    violation_id: str
    member_id: str
    rule: int
    stamp: Stamp

    @property
    def quarter(self) -> Quarter:
        return Quarter.of(self.stamp.time)


class HouseholdVisit(NamedTuple):
    household_id: str
    stamp: Stamp


class Kpi(NamedTuple):
    value: float
    stamp: Stamp


@dataclass
class QuarterFacts:
    """Activity facts of one quarter."""

    household_visits: dict[str, dict[str, HouseholdVisit]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # member -> visit_id -> visit
    # member -> ids: only how many, or whether any, counts (kept small for checkpoints)
    community_visits: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    volunteering: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    kpis: dict[tuple[str, str, str], Kpi] = field(default_factory=dict)  # (type, id, metric)


@dataclass
class Facts:
    registry: Registry = field(default_factory=Registry)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    lectures_in: dict[Quarter, set[str]] = field(default_factory=lambda: defaultdict(set))
    lectures_given_by: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    attendance: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    attended_by: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    violations: dict[str, Violation] = field(default_factory=dict)
    violations_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    retractions: dict[str, Stamp] = field(default_factory=dict)
    quarters: dict[Quarter, QuarterFacts] = field(default_factory=lambda: defaultdict(QuarterFacts))
    # what remains of closed quarters: enough to tell a later event that it is late
    closed_lectures: dict[str, Quarter] = field(default_factory=dict)
    closed_violations: dict[str, tuple[Quarter, str]] = field(default_factory=dict)

    # --- activity -----------------------------------------------------------------------

    def deliver_lecture(self, delivery: Delivery) -> Delivery | None:
        """Record a delivery; returns the one it replaced (an earlier claim wins)."""
        current = self.deliveries.get(delivery.lecture_id)
        if current is not None and delivery.stamp >= current.stamp:
            return None
        if current is not None:
            self.lectures_in[current.quarter].discard(current.lecture_id)
            self.lectures_given_by[current.speaker_id].discard(current.lecture_id)
        self.deliveries[delivery.lecture_id] = delivery
        self.lectures_in[delivery.quarter].add(delivery.lecture_id)
        self.lectures_given_by[delivery.speaker_id].add(delivery.lecture_id)
        return current

    def attend(self, lecture_id: str, member_id: str) -> None:
        self.attendance[lecture_id].add(member_id)
        self.attended_by[member_id].add(lecture_id)

    def log_violation(self, violation: Violation) -> Violation | None:
        """Record a violation; returns the one it replaced (an earlier claim wins)."""
        current = self.violations.get(violation.violation_id)
        if current is not None and violation.stamp >= current.stamp:
            return None
        if current is not None:
            self.violations_of[current.member_id].discard(current.violation_id)
        self.violations[violation.violation_id] = violation
        self.violations_of[violation.member_id].add(violation.violation_id)
        return current

    def retract_violation(self, stamp: Stamp, violation_id: str) -> None:
        current = self.retractions.get(violation_id)
        if current is None or stamp < current:
            self.retractions[violation_id] = stamp

    def visit_household(
        self, quarter: Quarter, member_id: str, visit_id: str, visit: HouseholdVisit
    ) -> None:
        visits = self.quarters[quarter].household_visits[member_id]
        if visit_id not in visits or visit.stamp < visits[visit_id].stamp:
            visits[visit_id] = visit

    def visit_community(self, quarter: Quarter, member_id: str, visit_id: str) -> None:
        self.quarters[quarter].community_visits[member_id].add(visit_id)

    def volunteer(self, quarter: Quarter, member_id: str, activity_id: str) -> None:
        self.quarters[quarter].volunteering[member_id].add(activity_id)

    def report_kpi(self, quarter: Quarter, key: tuple[str, str, str], kpi: Kpi) -> Kpi | None:
        """Record a report if it is the newest; returns the one it replaced, or `kpi` itself
        when an older report lost to a newer one already known."""
        current = self.quarters[quarter].kpis.get(key)
        if current is not None and kpi.stamp <= current.stamp:
            return kpi
        self.quarters[quarter].kpis[key] = kpi
        return current

    # --- closing ------------------------------------------------------------------------

    def forget_quarter(self, quarter: Quarter) -> None:
        """Drop a closed quarter's activity; keep which lectures and violations were in it."""
        self.quarters.pop(quarter, None)
        for lecture_id in self.lectures_in.pop(quarter, set()):
            delivery = self.deliveries.pop(lecture_id)
            self.lectures_given_by[delivery.speaker_id].discard(lecture_id)
            for member_id in self.attendance.pop(lecture_id, set()):
                self.attended_by[member_id].discard(lecture_id)
            self.closed_lectures[lecture_id] = quarter
        for violation in [v for v in self.violations.values() if v.quarter == quarter]:
            del self.violations[violation.violation_id]
            self.violations_of[violation.member_id].discard(violation.violation_id)
            self.retractions.pop(violation.violation_id, None)
            self.closed_violations[violation.violation_id] = (quarter, violation.member_id)

    # --- views --------------------------------------------------------------------------

    def lecture_quarter(self, lecture_id: str) -> Quarter | None:
        delivery = self.deliveries.get(lecture_id)
        return delivery.quarter if delivery else self.closed_lectures.get(lecture_id)

    def violation_quarter(self, violation_id: str) -> tuple[Quarter, str] | None:
        """The quarter and member of a violation, open or closed."""
        violation = self.violations.get(violation_id)
        if violation is not None:
            return violation.quarter, violation.member_id
        return self.closed_violations.get(violation_id)

    def counted_violations(self, quarter: Quarter, member_id: str) -> list[Violation]:
        """The member's violations in `quarter` that were not retracted, oldest first."""
        return sorted(
            (
                violation
                for violation_id in self.violations_of.get(member_id, ())
                if (violation := self.violations[violation_id]).quarter == quarter
                and violation_id not in self.retractions
            ),
            key=lambda v: v.stamp,
        )
