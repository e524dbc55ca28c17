"""SPEC §3: the Vanguard Index of a member and the Fortress Index of a department and a branch,
for one quarter, with their components. Which events fed a value is told by each event's status
(`EventStatus.counts_for`), not here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from mingdeng.contracts.events import MemberRegistered
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.facts import Facts
from mingdeng.scoring.domain.rules import Rules


@dataclass(frozen=True)
class VanguardScore:
    COMPONENTS: ClassVar[tuple[str, ...]] = ("performance", "study", "service", "discipline")

    member_id: str
    name: str
    department_id: str
    party_member: bool
    index: float
    performance: float
    study: float
    service: float
    discipline: float
    study_rate: float
    lectures_given: int
    households_visited: int
    violations: int
    # what one event of each kind is worth to this member this quarter, before the caps:
    # a lecture taken part in (its share of the rate), a lecture given (besides its share), a
    # paired household visited, a volunteer activity, a community visit, a counted violation,
    # and a point of the performance KPI
    worth: tuple[tuple[str, float], ...] = ()

    @property
    def components(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.COMPONENTS}


@dataclass(frozen=True)
class FortressScore:
    COMPONENTS: ClassVar[tuple[str, ...]] = ("business", "team", "activity", "discipline")

    level: str  # "department" or "branch"
    id: str
    name: str
    branch_id: str
    index: float
    business: float
    team: float
    activity: float
    discipline: float
    members: tuple[str, ...]
    violations: int
    departments: tuple[str, ...] = ()

    @property
    def components(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.COMPONENTS}


def vanguard(
    facts: Facts, quarter: Quarter, member: MemberRegistered, rules: Rules
) -> VanguardScore:
    r = rules.vanguard
    bucket = facts.quarters.get(quarter)
    member_id = member.member_id

    kpi = bucket.kpis.get(("member", member_id, "performance")) if bucket else None
    performance = r.performance_weight * kpi.value if kpi else 0.0

    lectures = facts.lectures_in.get(quarter, set())
    given = lectures & facts.lectures_given_by.get(member_id, set())
    took_part = given | (lectures & facts.attended_by.get(member_id, set()))
    rate = len(took_part) / len(lectures) if lectures else 1.0
    study = min(r.study_cap, r.study_rate_points * rate + r.lecture_given_points * len(given))

    household_visits = bucket.household_visits.get(member_id, {}) if bucket else {}
    households = {
        visit.household_id
        for visit in household_visits.values()
        if visit.household_id in facts.registry.households
        and facts.registry.paired_at(visit.household_id, member_id, visit.stamp.time)
    }
    volunteering = bucket.volunteering.get(member_id, set()) if bucket else set()
    community = bucket.community_visits.get(member_id, set()) if bucket else set()
    service = (
        min(r.household_visit_cap, r.household_visit_points * len(households))
        + min(r.volunteer_cap, r.volunteer_points * len(volunteering))
        + (r.community_visit_points if community else 0.0)
    )

    violations = facts.counted_violations(quarter, member_id)
    discipline = max(0.0, r.discipline_base - r.discipline_per_violation * len(violations))

    return VanguardScore(
        member_id=member_id,
        name=member.name,
        department_id=member.department_id,
        party_member=member.party_member,
        index=performance + study + service + discipline,
        performance=performance,
        study=study,
        service=service,
        discipline=discipline,
        study_rate=rate,
        lectures_given=len(given),
        households_visited=len(households),
        violations=len(violations),
        worth=(
            ("lecture", r.study_rate_points / len(lectures) if lectures else 0.0),
            ("lecture_given", r.lecture_given_points),
            ("household", r.household_visit_points),
            ("volunteer", r.volunteer_points),
            ("community", r.community_visit_points),
            ("violation", -r.discipline_per_violation),
            ("performance", r.performance_weight),
        ),
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def fortress_of_department(
    facts: Facts,
    quarter: Quarter,
    department_id: str,
    member_scores: Sequence[VanguardScore],
    rules: Rules,
) -> FortressScore:
    r = rules.fortress
    department = facts.registry.department(department_id)
    assert department is not None
    bucket = facts.quarters.get(quarter)
    kpi = bucket.kpis.get(("department", department_id, "business")) if bucket else None
    business = r.business_weight * kpi.value if kpi else 0.0
    team = r.team_weight * _mean([s.index for s in member_scores])
    activity = r.activity_points * _mean([s.study_rate for s in member_scores])
    violation_count = sum(s.violations for s in member_scores)
    discipline = max(0.0, r.discipline_base - r.discipline_per_violation * violation_count)
    return FortressScore(
        level="department",
        id=department_id,
        name=department.name,
        branch_id=department.branch_id,
        index=business + team + activity + discipline,
        business=business,
        team=team,
        activity=activity,
        discipline=discipline,
        members=tuple(s.member_id for s in member_scores),
        violations=violation_count,
    )


def fortress_of_branch(
    branch_id: str, name: str, departments: Sequence[FortressScore]
) -> FortressScore:
    """The member-weighted mean of its departments (a plain mean when none has members)."""
    weights = [len(d.members) for d in departments]
    if sum(weights) == 0:
        weights = [1] * len(departments)
    total = sum(weights)

    def weighted(component: str) -> float:
        if not departments:
            return 0.0
        return (
            sum(w * float(getattr(d, component)) for w, d in zip(weights, departments, strict=True))
            / total
        )

    return FortressScore(
        level="branch",
        id=branch_id,
        name=name,
        branch_id=branch_id,
        index=weighted("index"),
        business=weighted("business"),
        team=weighted("team"),
        activity=weighted("activity"),
        discipline=weighted("discipline"),
        members=tuple(m for d in departments for m in d.members),
        violations=sum(d.violations for d in departments),
        departments=tuple(d.id for d in departments),
    )
