"""SPEC §4: rankings and selections of a quarter, and the year-end top ten."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import islice
from typing import Literal

from mingdeng.contracts.periods import Quarter, quarters_of_year
from mingdeng.scoring.domain.facts import Facts
from mingdeng.scoring.domain.indices import (
    FortressScore,
    VanguardScore,
    fortress_of_branch,
    fortress_of_department,
    vanguard,
)
from mingdeng.scoring.domain.rules import Rules

Status = Literal["provisional", "final"]


@dataclass(frozen=True)
class QuarterStandings:
    quarter: Quarter
    status: Status
    rules_version: str
    members: tuple[VanguardScore, ...]  # in rank order
    departments: tuple[FortressScore, ...]  # in rank order
    branches: tuple[FortressScore, ...]  # in rank order
    exemplars: tuple[str, ...]  # member ids, in rank order
    excellent_departments: tuple[str, ...]

    @cached_property
    def _by_member(self) -> dict[str, VanguardScore]:
        return {m.member_id: m for m in self.members}

    def member(self, member_id: str) -> VanguardScore | None:
        return self._by_member.get(member_id)

    def finalised(self) -> QuarterStandings:
        return replace(self, status="final")


@dataclass(frozen=True)
class TopTenEntry:
    member_id: str
    name: str
    department_id: str
    mean_index: float
    quarters: Mapping[str, float]


@dataclass(frozen=True)
class TopTen:
    year: int
    status: Status
    rules_version: str
    members: tuple[TopTenEntry, ...]


def vanguard_order(score: VanguardScore) -> tuple[float, int, int, str]:
    """Higher index first; ties: more lectures given, more households visited, member id."""
    return (-score.index, -score.lectures_given, -score.households_visited, score.member_id)


def department_order(score: FortressScore) -> tuple[float, str]:
    return (-score.index, score.id)


def select_exemplars(ranked: Iterable[VanguardScore], rules: Rules) -> tuple[str, ...]:
    """The first party members without a counted violation, in rank order."""
    eligible = (s.member_id for s in ranked if s.party_member and s.violations == 0)
    return tuple(islice(eligible, rules.selections.exemplars))


def compute_standings(facts: Facts, quarter: Quarter, rules: Rules) -> QuarterStandings:
    """Every index of a quarter computed afresh from the facts: the reference that the
    incremental engine is tested against."""
    members = facts.registry.active_members()
    scores = sorted((vanguard(facts, quarter, m, rules) for m in members), key=vanguard_order)

    by_department: dict[str, list[VanguardScore]] = defaultdict(list)
    for score in scores:
        by_department[score.department_id].append(score)
    departments = [
        fortress_of_department(
            facts,
            quarter,
            department_id,
            sorted(by_department[department_id], key=lambda s: s.member_id),
            rules,
        )
        for department_id in sorted(facts.registry.departments)
    ]
    departments.sort(key=department_order)

    branches = []
    for branch_id in sorted(facts.registry.branches):
        branch = facts.registry.branch(branch_id)
        assert branch is not None
        own = sorted((d for d in departments if d.branch_id == branch_id), key=lambda d: d.id)
        branches.append(fortress_of_branch(branch_id, branch.name, own))
    branches.sort(key=department_order)

    return QuarterStandings(
        quarter=quarter,
        status="provisional",
        rules_version=rules.version,
        members=tuple(scores),
        departments=tuple(departments),
        branches=tuple(branches),
        exemplars=select_exemplars(scores, rules),
        excellent_departments=tuple(
            d.id for d in departments[: rules.selections.excellent_departments]
        ),
    )


TopTenOrder = tuple[float, int, int, str]


def top_ten_place(
    candidate: VanguardScore, per_quarter: Mapping[Quarter, VanguardScore]
) -> tuple[TopTenOrder, TopTenEntry] | None:
    """A candidate's place among the year's top ten, from their scores in the year's quarters
    (`per_quarter`, in quarter order, a missing quarter counts 0); None when they cannot be
    among them: not a party member, or a counted violation in the year. Order: the mean of
    four quarters, then lectures given and households visited over the year, then member id."""
    if not candidate.party_member:
        return None
    scores = per_quarter.values()
    if any(s.violations for s in scores):
        return None
    entry = TopTenEntry(
        member_id=candidate.member_id,
        name=candidate.name,
        department_id=candidate.department_id,
        mean_index=sum(s.index for s in scores) / 4,
        quarters={str(q): s.index for q, s in per_quarter.items()},
    )
    given = sum(s.lectures_given for s in scores)
    visited = sum(s.households_visited for s in scores)
    return (-entry.mean_index, -given, -visited, entry.member_id), entry


def compute_top_ten(
    year: int,
    quarters: Mapping[Quarter, QuarterStandings],
    candidates: Sequence[VanguardScore],
    rules: Rules,
    status: Status,
) -> TopTen:
    """The year's top ten computed afresh (see `top_ten_place`) among `candidates`."""
    ranked = []
    for candidate in candidates:
        per_quarter = {
            q: score
            for q in quarters_of_year(year)
            if q in quarters and (score := quarters[q].member(candidate.member_id)) is not None
        }
        place = top_ten_place(candidate, per_quarter)
        if place is not None:
            ranked.append(place)
    ranked.sort(key=lambda pair: pair[0])
    return TopTen(
        year, status, rules.version, tuple(e for _, e in ranked[: rules.selections.top_ten])
    )
