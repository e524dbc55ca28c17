"""What scoring knows: the facts taken from events, kept so that any arrival order gives the
same state. Where two events claim the same thing, the one later in (time, source, id) wins for
master data and KPIs, the earlier one for one-off facts (a lecture's delivery, a violation)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from mingdeng.contracts.periods import Quarter

EventRef = tuple[str, str]  # (source, id): the idempotency key of an event


@dataclass(frozen=True, order=True)
class Stamp:
    """A total order over events: when they happened, then who said so, then their id."""

    time: datetime
    source: str
    id: str

    @property
    def ref(self) -> EventRef:
        return (self.source, self.id)


@dataclass(frozen=True)
class Branch:
    branch_id: str
    name: str


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    branch_id: str
    leader_id: str


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str
    department_id: str
    party_member: bool


@dataclass(frozen=True)
class Delivery:
    lecture_id: str
    speaker_id: str
    stamp: Stamp


@dataclass(frozen=True)
class Violation:
    violation_id: str
    member_id: str
    rule: int
    stamp: Stamp


@dataclass(frozen=True)
class HouseholdVisit:
    household_id: str
    stamp: Stamp


@dataclass(frozen=True)
class Kpi:
    value: float
    stamp: Stamp


T = TypeVar("T")


def _newest(current: tuple[Stamp, T] | None, stamp: Stamp, value: T) -> tuple[Stamp, T]:
    return (stamp, value) if current is None or stamp > current[0] else current


@dataclass
class QuarterFacts:
    """Activity facts of one quarter."""

    household_visits: dict[str, dict[str, HouseholdVisit]] = field(
        default_factory=lambda: defaultdict(dict)
    )  # member -> visit_id -> visit
    community_visits: dict[str, dict[str, Stamp]] = field(default_factory=lambda: defaultdict(dict))
    volunteering: dict[str, dict[str, Stamp]] = field(default_factory=lambda: defaultdict(dict))
    kpis: dict[tuple[str, str, str], Kpi] = field(default_factory=dict)  # (type, id, metric)


@dataclass
class Facts:
    branches: dict[str, tuple[Stamp, Branch]] = field(default_factory=dict)
    departments: dict[str, tuple[Stamp, Department]] = field(default_factory=dict)
    members: dict[str, tuple[Stamp, Member]] = field(default_factory=dict)
    departures: dict[str, Stamp] = field(default_factory=dict)
    households: set[str] = field(default_factory=set)
    # (household, member) -> stamp -> paired?  ("paired at t": the newest change at or before t)
    pairings: dict[tuple[str, str], dict[Stamp, bool]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    attendance: dict[str, dict[str, Stamp]] = field(default_factory=lambda: defaultdict(dict))
    violations: dict[str, Violation] = field(default_factory=dict)
    retractions: dict[str, Stamp] = field(default_factory=dict)
    quarters: dict[Quarter, QuarterFacts] = field(default_factory=lambda: defaultdict(QuarterFacts))

    # --- master data --------------------------------------------------------------------

    def register_branch(self, stamp: Stamp, branch: Branch) -> None:
        self.branches[branch.branch_id] = _newest(
            self.branches.get(branch.branch_id), stamp, branch
        )

    def register_department(self, stamp: Stamp, department: Department) -> None:
        key = department.department_id
        self.departments[key] = _newest(self.departments.get(key), stamp, department)

    def register_member(self, stamp: Stamp, member: Member) -> None:
        self.members[member.member_id] = _newest(self.members.get(member.member_id), stamp, member)

    def member_left(self, stamp: Stamp, member_id: str) -> None:
        self.departures[member_id] = max(stamp, self.departures.get(member_id, stamp))

    def register_household(self, household_id: str) -> None:
        self.households.add(household_id)

    def set_pairing(self, stamp: Stamp, household_id: str, member_id: str, paired: bool) -> None:
        self.pairings[(household_id, member_id)][stamp] = paired

    def paired_at(self, household_id: str, member_id: str, moment: Stamp) -> bool:
        changes = self.pairings.get((household_id, member_id))
        if not changes:
            return False
        before = [stamp for stamp in changes if stamp.time <= moment.time]
        return bool(before) and changes[max(before)]

    # --- activity -----------------------------------------------------------------------

    def deliver_lecture(self, delivery: Delivery) -> None:
        current = self.deliveries.get(delivery.lecture_id)
        if current is None or delivery.stamp < current.stamp:
            self.deliveries[delivery.lecture_id] = delivery

    def attend(self, stamp: Stamp, lecture_id: str, member_id: str) -> None:
        current = self.attendance[lecture_id].get(member_id)
        if current is None or stamp < current:
            self.attendance[lecture_id][member_id] = stamp

    def log_violation(self, violation: Violation) -> None:
        current = self.violations.get(violation.violation_id)
        if current is None or violation.stamp < current.stamp:
            self.violations[violation.violation_id] = violation

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

    def visit_community(
        self, quarter: Quarter, member_id: str, visit_id: str, stamp: Stamp
    ) -> None:
        visits = self.quarters[quarter].community_visits[member_id]
        visits[visit_id] = min(stamp, visits.get(visit_id, stamp))

    def volunteer(self, quarter: Quarter, member_id: str, activity_id: str, stamp: Stamp) -> None:
        current = self.quarters[quarter].volunteering[member_id].get(activity_id)
        if current is None or stamp < current:
            self.quarters[quarter].volunteering[member_id][activity_id] = stamp

    def report_kpi(self, quarter: Quarter, key: tuple[str, str, str], kpi: Kpi) -> None:
        current = self.quarters[quarter].kpis.get(key)
        if current is None or kpi.stamp > current.stamp:
            self.quarters[quarter].kpis[key] = kpi

    # --- views --------------------------------------------------------------------------

    def member(self, member_id: str) -> Member | None:
        entry = self.members.get(member_id)
        return entry[1] if entry else None

    def is_active(self, member_id: str) -> bool:
        entry = self.members.get(member_id)
        departure = self.departures.get(member_id)
        return entry is not None and (departure is None or departure < entry[0])

    def active_members(self) -> list[Member]:
        return [self.members[m][1] for m in sorted(self.members) if self.is_active(m)]

    def department(self, department_id: str) -> Department | None:
        entry = self.departments.get(department_id)
        return entry[1] if entry else None

    def branch(self, branch_id: str) -> Branch | None:
        entry = self.branches.get(branch_id)
        return entry[1] if entry else None

    def deliveries_in(self, quarter: Quarter) -> list[Delivery]:
        return sorted(
            (d for d in self.deliveries.values() if Quarter.of(d.stamp.time) == quarter),
            key=lambda d: d.lecture_id,
        )

    def counted_violations(self, quarter: Quarter) -> dict[str, list[Violation]]:
        """Violations in `quarter` that were not retracted, by member."""
        found: dict[str, list[Violation]] = defaultdict(list)
        for violation in sorted(self.violations.values(), key=lambda v: v.stamp):
            if (
                violation.violation_id not in self.retractions
                and Quarter.of(violation.stamp.time) == quarter
            ):
                found[violation.member_id].append(violation)
        return found
