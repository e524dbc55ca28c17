"""Outreach read models (pairings, coverage, overdue visits, liaison, talks, suggestions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path
from pydantic import TypeAdapter

from mingdeng.contracts.derived import Task
from mingdeng.contracts.outreach_views import (
    Community,
    Coverage,
    Liaison,
    MemberCoverage,
    MemberHouseholds,
    OverduePairing,
    Suggestions,
    Talks,
    UnpairedHousehold,
)
from mingdeng.contracts.periods import QUARTER_OR_MONTH_PATTERN, QUARTER_PATTERN
from mingdeng.contracts.privacy import mask_phone
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.domain.access import Org, may_see_violations, scope_of
from mingdeng.gateway.entrypoints.answers import (
    CommunityAnswer,
    CoverageAnswer,
    HouseholdsAnswer,
    LiaisonAnswer,
    OverdueAnswer,
    ReassignmentAnswer,
    SuggestionsAnswer,
    TalkObligation,
    TalkObligations,
    TalksAnswer,
)
from mingdeng.gateway.entrypoints.deps import Connection, Organisation, Viewer
from mingdeng.gateway.entrypoints.problems import Problem, problems

router = APIRouter(prefix="/v1/outreach", tags=["outreach"], responses=problems(401, 403, 422, 503))

PeriodParam = Annotated[str, Path(pattern=QUARTER_OR_MONTH_PATTERN, examples=["2026Q3", "2026-08"])]
QuarterParam = Annotated[str, Path(pattern=QUARTER_PATTERN, examples=["2026Q3"])]


T = TypeVar("T")
MEMBER_COVERAGE = TypeAdapter(MemberCoverage)
OVERDUE_PAIRING = TypeAdapter(OverduePairing)
UNPAIRED_HOUSEHOLD = TypeAdapter(UnpairedHousehold)
NOT_YET = problems(404)


async def view(connection: Connection, key: str, body: TypeAdapter[T]) -> tuple[T, datetime]:
    found = await repository.outreach_view(connection, key, body)
    if found is None:
        raise Problem(404, "Nothing yet", f"no outreach figures for {key}")
    return found


async def lines(
    connection: Connection, view: str, body: TypeAdapter[T], period: str | None = None
) -> tuple[list[T], datetime]:
    found = await repository.outreach_lines(connection, view, body, period)
    if found is None:
        raise Problem(404, "Nothing yet", "no outreach figures yet")
    return found


@router.get("/coverage/{period}", responses=NOT_YET)
async def coverage(
    period: PeriodParam, viewer: Viewer, org: Organisation, connection: Connection
) -> CoverageAnswer:
    """Pairings, households visited and the rate, by member, department and branch, with the
    pairings overdue for a visit (60 days) as of now. Each viewer sees their part."""
    body, computed_at = await view(connection, f"coverage/{period}", TypeAdapter(Coverage))
    scope = scope_of(viewer, org)
    members, _ = await lines(connection, "coverage_member", MEMBER_COVERAGE, period)
    overdue, _ = await lines(connection, "overdue_pairing", OVERDUE_PAIRING)
    return CoverageAnswer.model_validate(
        {
            **dict(body),
            "by_member": [m for m in members if scope.allows_member(m.member_id)],
            "by_department": [
                d for d in body.by_department if scope.allows_department(d.department_id)
            ],
            "by_branch": [b for b in body.by_branch if scope.allows_branch(b.branch_id)],
            "overdue": [o for o in overdue if scope.allows_member(o.member_id)],
            "computed_at": computed_at,
        }
    )


@router.get("/overdue", responses=NOT_YET)
async def overdue(viewer: Viewer, org: Organisation, connection: Connection) -> OverdueAnswer:
    """Pairings whose member has not visited the household for 60 days, longest first."""
    body, computed_at = await lines(connection, "overdue_pairing", OVERDUE_PAIRING)
    scope = scope_of(viewer, org)
    return OverdueAnswer(
        items=[o for o in body if scope.allows_member(o.member_id)], computed_at=computed_at
    )


@router.get("/reassignment", responses=NOT_YET)
async def reassignment(viewer: Viewer, connection: Connection) -> ReassignmentAnswer:
    """Households without a pairing (unpaired, or their member left), to pair again. Admin."""
    if viewer.role != "admin":
        raise Problem(403, "Forbidden", "the reassignment list is for admins")
    body, computed_at = await lines(connection, "unpaired_household", UNPAIRED_HOUSEHOLD)
    return ReassignmentAnswer(items=body, computed_at=computed_at)


@router.get("/members/{member_id}/households", responses=NOT_YET)
async def households(member_id: str, viewer: Viewer, connection: Connection) -> HouseholdsAnswer:
    """A member's households and pairing history: personal data, for admin and the member."""
    if viewer.role != "admin" and viewer.subject != member_id:
        raise Problem(403, "Forbidden", "household details are for admins and the paired member")
    body, computed_at = await view(
        connection, f"households/{member_id}", TypeAdapter(MemberHouseholds)
    )
    masked = [h.model_copy(update={"phone": mask_phone(h.phone)}) for h in body.households]
    return HouseholdsAnswer.model_validate(
        {**dict(body), "households": masked, "computed_at": computed_at}
    )


@router.get("/liaison/{quarter}", responses=NOT_YET)
async def liaison(quarter: QuarterParam, viewer: Viewer, connection: Connection) -> LiaisonAnswer:
    """Each party-group member's contact points and liaison visits; none in a quarter is flagged."""
    if viewer.role not in ("admin", "leader"):
        raise Problem(403, "Forbidden", "liaison is for admins and leaders")
    body, computed_at = await view(connection, f"liaison/{quarter}", TypeAdapter(Liaison))
    leaders = [x for x in body.leaders if viewer.role == "admin" or x.leader_id == viewer.subject]
    return LiaisonAnswer.model_validate(
        {**dict(body), "leaders": leaders, "computed_at": computed_at}
    )


@router.get("/talks/{period}", responses=NOT_YET)
async def talks(period: PeriodParam, viewer: Viewer, connection: Connection) -> TalksAnswer:
    """Heart-to-heart talks (谈心谈话) held, by category."""
    body, computed_at = await view(connection, f"talks/{period}", TypeAdapter(Talks))
    return TalksAnswer.model_validate({**dict(body), "computed_at": computed_at})


@router.get("/talk-obligations")
async def talk_obligations(
    viewer: Viewer, org: Organisation, connection: Connection
) -> TalkObligations:
    """Talks (谈心谈话) owed after violations: the notifier's talk tasks, open (overdue once past
    due), or done; none for a retracted violation. They reveal violations: admin, the member's
    branch secretary and the member only."""
    now = datetime.now(UTC)
    items = [
        talk_obligation(task, org, now)
        for task in await repository.talk_tasks(connection)
        if may_see_violations(viewer, task.member_id, org)
    ]
    return TalkObligations(items=items, computed_at=now)


def talk_obligation(task: Task, org: Org, now: datetime) -> TalkObligation:
    """A talk task as this endpoint has always shown it (docs/api.md)."""
    done_by = task.done_by_event
    return TalkObligation(
        violation_id=task.cause,
        member_id=task.member_id,
        branch_id=org.department_branch.get(org.member_department.get(task.member_id, "")),
        assignee_id=task.assignee_id,
        secretary_ids=[task.assignee_id],
        violation_at=task.created_at,
        due=task.due,
        status="overdue" if task.status == "open" and now > task.due else task.status,
        done_at=task.done_at,
        talk_id=done_by.id if done_by else None,
        done_by_event=done_by,
        task_id=task.task_id,
    )


@router.get("/suggestions", responses=NOT_YET)
async def suggestions(viewer: Viewer, connection: Connection) -> SuggestionsAnswer:
    """Suggestions (领导出题，科室献计) submitted and adopted, by department and topic."""
    body, computed_at = await view(connection, "suggestions", TypeAdapter(Suggestions))
    return SuggestionsAnswer.model_validate({**dict(body), "computed_at": computed_at})


@router.get("/community/{period}", responses=NOT_YET)
async def community(period: PeriodParam, viewer: Viewer, connection: Connection) -> CommunityAnswer:
    """Members reporting to their residential community, and volunteering, in person-times."""
    body, computed_at = await view(connection, f"community/{period}", TypeAdapter(Community))
    return CommunityAnswer.model_validate({**dict(body), "computed_at": computed_at})
