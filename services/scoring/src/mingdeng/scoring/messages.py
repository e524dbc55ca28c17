"""Standings to the derived messages of `mingdeng.contracts.derived`, and back (for snapshots)."""

from __future__ import annotations

from collections.abc import Sequence

from mingdeng.contracts.derived import (
    EventRef,
    IndexScore,
    LateEvent,
    QuarterSelection,
    SelectedDepartment,
    SelectedMember,
    TopTenMember,
    YearTopTen,
)
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.engine import LateEvent as DomainLateEvent
from mingdeng.scoring.domain.facts import EventRef as DomainRef
from mingdeng.scoring.domain.indices import FortressScore, VanguardScore
from mingdeng.scoring.domain.standings import QuarterStandings, TopTen, TopTenEntry


def _refs(refs: Sequence[DomainRef]) -> list[EventRef]:
    return [EventRef(source=source, id=event_id) for source, event_id in refs]


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 2) for name, value in values.items()}


def member_score(standings: QuarterStandings, rank: int, score: VanguardScore) -> IndexScore:
    return IndexScore(
        quarter=str(standings.quarter),
        level="member",
        id=score.member_id,
        name=score.name,
        department_id=score.department_id,
        party_member=score.party_member,
        rank=rank,
        index=round(score.index, 2),
        index_exact=score.index,
        components=_rounded(score.components),
        details={
            "study_rate": score.study_rate,
            "lectures_given": score.lectures_given,
            "households_visited": score.households_visited,
            "violations": score.violations,
        },
        events={name: _refs(refs) for name, refs in score.events.items()},
        status=standings.status,
        rules_version=standings.rules_version,
    )


def fortress_score(standings: QuarterStandings, rank: int, score: FortressScore) -> IndexScore:
    details: dict[str, float | int | list[str]] = {
        "members": list(score.members),
        "violations": score.violations,
    }
    if score.level == "branch":
        details["departments"] = list(score.departments)
    return IndexScore(
        quarter=str(standings.quarter),
        level="branch" if score.level == "branch" else "department",
        id=score.id,
        name=score.name,
        branch_id=score.branch_id,
        rank=rank,
        index=round(score.index, 2),
        index_exact=score.index,
        components=_rounded(score.components),
        details=details,
        events={name: _refs(refs) for name, refs in score.events.items()},
        status=standings.status,
        rules_version=standings.rules_version,
    )


def score_messages(standings: QuarterStandings) -> list[IndexScore]:
    return [
        *(member_score(standings, rank, s) for rank, s in enumerate(standings.members, 1)),
        *(fortress_score(standings, rank, s) for rank, s in enumerate(standings.departments, 1)),
        *(fortress_score(standings, rank, s) for rank, s in enumerate(standings.branches, 1)),
    ]


def selection_message(
    standings: QuarterStandings, late: Sequence[DomainLateEvent]
) -> QuarterSelection:
    members = {m.member_id: m for m in standings.members}
    departments = {d.id: d for d in standings.departments}
    return QuarterSelection(
        quarter=str(standings.quarter),
        status=standings.status,
        rules_version=standings.rules_version,
        exemplars=[
            SelectedMember(
                rank=rank,
                member_id=member_id,
                name=members[member_id].name,
                department_id=members[member_id].department_id,
                index=round(members[member_id].index, 2),
            )
            for rank, member_id in enumerate(standings.exemplars, 1)
        ],
        excellent_departments=[
            SelectedDepartment(
                rank=rank,
                department_id=department_id,
                name=departments[department_id].name,
                index=round(departments[department_id].index, 2),
            )
            for rank, department_id in enumerate(standings.excellent_departments, 1)
        ],
        late_events=[
            LateEvent(source=e.ref[0], id=e.ref[1], type=e.type, time=e.time) for e in late
        ],
    )


def top_ten_message(top_ten: TopTen) -> YearTopTen:
    return YearTopTen(
        year=top_ten.year,
        status=top_ten.status,
        rules_version=top_ten.rules_version,
        members=[
            TopTenMember(
                rank=rank,
                member_id=m.member_id,
                name=m.name,
                department_id=m.department_id,
                mean_index=round(m.mean_index, 2),
                quarters={q: round(v, 2) for q, v in m.quarters.items()},
            )
            for rank, m in enumerate(top_ten.members, 1)
        ],
    )


def standings_from_messages(
    scores: Sequence[IndexScore], selection: QuarterSelection
) -> QuarterStandings:
    """Rebuild frozen standings from the messages they were published as (a final snapshot)."""

    def refs(score: IndexScore) -> dict[str, tuple[DomainRef, ...]]:
        return {name: tuple((r.source, r.id) for r in rs) for name, rs in score.events.items()}

    def exact(score: IndexScore, name: str) -> float:
        return score.components[name]

    def number(score: IndexScore, name: str) -> float:
        value = score.details[name]
        assert isinstance(value, int | float), f"{score.key}: {name} is not a number"
        return value

    def names(score: IndexScore, name: str) -> tuple[str, ...]:
        value = score.details.get(name, [])
        assert isinstance(value, list), f"{score.key}: {name} is not a list"
        return tuple(value)

    members: list[VanguardScore] = []
    departments: list[FortressScore] = []
    branches: list[FortressScore] = []
    for s in sorted(scores, key=lambda s: s.rank):
        if s.level == "member":
            members.append(
                VanguardScore(
                    member_id=s.id,
                    name=s.name,
                    department_id=s.department_id or "",
                    party_member=bool(s.party_member),
                    index=s.index_exact,
                    performance=exact(s, "performance"),
                    study=exact(s, "study"),
                    service=exact(s, "service"),
                    discipline=exact(s, "discipline"),
                    study_rate=number(s, "study_rate"),
                    lectures_given=int(number(s, "lectures_given")),
                    households_visited=int(number(s, "households_visited")),
                    violations=int(number(s, "violations")),
                    events=refs(s),
                )
            )
        else:
            fortress = FortressScore(
                level=s.level,
                id=s.id,
                name=s.name,
                branch_id=s.branch_id or "",
                index=s.index_exact,
                business=exact(s, "business"),
                team=exact(s, "team"),
                activity=exact(s, "activity"),
                discipline=exact(s, "discipline"),
                members=names(s, "members"),
                violations=int(number(s, "violations")),
                departments=names(s, "departments"),
                events=refs(s),
            )
            (branches if s.level == "branch" else departments).append(fortress)
    return QuarterStandings(
        quarter=Quarter.parse(selection.quarter),
        status=selection.status,
        rules_version=selection.rules_version,
        members=tuple(members),
        departments=tuple(departments),
        branches=tuple(branches),
        exemplars=tuple(e.member_id for e in selection.exemplars),
        excellent_departments=tuple(d.department_id for d in selection.excellent_departments),
    )


def top_ten_from_message(message: YearTopTen) -> TopTen:
    return TopTen(
        year=message.year,
        status=message.status,
        rules_version=message.rules_version,
        members=tuple(
            TopTenEntry(m.member_id, m.name, m.department_id, m.mean_index, m.quarters)
            for m in message.members
        ),
    )
