"""Indices, selections and the public board (SPEC §6)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response

from mingdeng.contracts.derived import QuarterSelection, YearTopTen
from mingdeng.contracts.periods import QUARTER_PATTERN, YEAR_PATTERN
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.read_cache import ReadCache
from mingdeng.gateway.adapters.repository import RankedPage, RankingPage, RankKey
from mingdeng.gateway.domain.access import departments_chosen, may_see_violations, scope_of
from mingdeng.gateway.entrypoints.answers import (
    Board,
    BoardDepartment,
    BoardExemplar,
    ContributingEvents,
    FortressRanking,
    MemberIndex,
    QuarterSelections,
    VanguardRanking,
)
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
)
from mingdeng.gateway.entrypoints.paging import (
    NEXT_LINK,
    After,
    invalid_cursor,
    link_next,
    read_cursor,
)
from mingdeng.gateway.entrypoints.problems import Problem, problems
from mingdeng.gateway.entrypoints.responses import encoded_json_response

router = APIRouter(prefix="/v1", tags=["indices"])
FINAL_OR_NOT: dict[int | str, dict[str, Any]] = {
    304: {"description": "final data, unchanged since the ETag sent in If-None-Match"}
}

QuarterParam = Annotated[str, Path(pattern=QUARTER_PATTERN, examples=["2026Q3"])]
EVENTS_SHOWN = 20  # per component in a member's page; the rest page by page


async def ranked_page(request: Request, page: RankingPage) -> Response:
    """A page of a ranking: the quarter's status, the total, and rank, identity, index and
    components of each item (paged, filtered and encoded by PostgreSQL; kept in memory until
    the rankings change: a page served from memory takes no database connection), and the
    link to the next page."""
    cache: ReadCache = request.app.state.read_cache
    pool: asyncpg.Pool = request.app.state.ranking_pool  # its statements planned generically

    async def load() -> RankedPage:
        async with pool.acquire() as connection:
            return await repository.ranking(connection, page)

    found = await cache.through("rankings", page, load)
    response = encoded_json_response(request, found.body, final=found.status == "final")
    following = None if found.next is None else [found.next.rank, found.next.id]
    return link_next(request, response, following)


def rank_key(after: str | None) -> RankKey | None:
    """The last item of the page before, from its cursor."""
    if after is None:
        return None
    match read_cursor(after):
        case [int() | None as rank, str() as subject_id] if not isinstance(rank, bool):
            return RankKey(rank, subject_id)
    raise invalid_cursor()


@router.get(
    "/quarters/{quarter}/vanguard",
    response_model=VanguardRanking,
    responses={**NEXT_LINK, **FINAL_OR_NOT, **VIEWER_PROBLEMS},
)
async def vanguard(
    request: Request,
    quarter: QuarterParam,
    viewer: Viewer,
    org: Organisation,
    department_id: Annotated[
        str | None, Query(description="only the members of this department")
    ] = None,
    branch_id: Annotated[
        str | None, Query(description="only the members of this branch's departments")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    """Members by Vanguard Index, rank then member id; each viewer sees their part of the bureau.
    A department or branch filter keeps the quarter's ranks (a department's first may be 7th)."""
    ids = scope_of(viewer, org).member_ids
    departments = departments_chosen(org, department_id, branch_id)
    page = RankingPage(quarter, "member", ids, departments, limit, offset, rank_key(after))
    return await ranked_page(request, page)


@router.get(
    "/quarters/{quarter}/fortress",
    response_model=FortressRanking,
    responses={**NEXT_LINK, **FINAL_OR_NOT, **VIEWER_PROBLEMS},
)
async def fortress(
    request: Request,
    quarter: QuarterParam,
    viewer: Viewer,
    org: Organisation,
    level: Literal["department", "branch"] = "department",
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> Response:
    """Departments or branches by Fortress Index."""
    scope = scope_of(viewer, org)
    ids = scope.department_ids if level == "department" else scope.branch_ids
    page = RankingPage(quarter, level, ids, None, limit, offset, rank_key(after))
    return await ranked_page(request, page)


@router.get(
    "/members/{member_id}/vanguard/{quarter}",
    response_model=MemberIndex,
    responses={**FINAL_OR_NOT, **VIEWER_PROBLEMS, **problems(404)},
)
async def member_vanguard(
    request: Request,
    member_id: str,
    quarter: QuarterParam,
    viewer: Viewer,
    org: Organisation,
) -> Response:
    """One member's index with its components, and the first events behind each component
    (`events`, at most 20 each; `events_total` says how many; the rest page by page from
    `/v1/members/{member_id}/vanguard/{quarter}/events`)."""
    if not scope_of(viewer, org).allows_member(member_id):
        raise Problem(403, "Forbidden", f"{viewer.role} {viewer.subject} may not see {member_id}")
    cache: ReadCache = request.app.state.read_cache
    with_violations = may_see_violations(viewer, member_id, org)
    final, content = await cache.through(
        "rankings",
        ("member", quarter, member_id, with_violations),
        lambda: _member_page(request.app.state.pool, quarter, member_id, with_violations),
    )
    if not content:
        raise Problem(404, "No index", f"no Vanguard Index of {member_id} for {quarter}")
    return encoded_json_response(request, content, final=final)


async def _member_page(
    pool: asyncpg.Pool, quarter: str, member_id: str, with_violations: bool
) -> tuple[bool, bytes]:
    """Whether the member's page is final, and its JSON (empty when they have no index that
    quarter: kept in memory as well)."""
    async with pool.acquire() as connection:
        found = await repository.score(connection, quarter, "member", member_id)
        if found is None:
            return False, b""
        events, totals = await repository.contributions(
            connection, quarter, "member", member_id, EVENTS_SHOWN
        )
    score, rank = found
    details = dict(score.details)
    if not with_violations:
        details.pop("violations", None)
        events.pop("discipline", None)
        totals.pop("discipline", None)
    page = MemberIndex.model_validate(
        {
            "quarter": quarter,
            "member_id": member_id,
            "name": score.name,
            "department_id": score.department_id,
            "rank": rank,
            "index": score.index,
            "components": score.components,
            "details": details,
            "events": events,
            "events_total": totals,
            "status": score.status,
            "rules_version": score.rules_version,
        }
    )
    return page.status == "final", page.model_dump_json().encode()


@router.get(
    "/members/{member_id}/vanguard/{quarter}/events", responses={**NEXT_LINK, **VIEWER_PROBLEMS}
)
async def member_vanguard_events(
    request: Request,
    response: Response,
    member_id: str,
    quarter: QuarterParam,
    viewer: Viewer,
    org: Organisation,
    connection: Connection,
    component: Annotated[
        Literal["performance", "study", "service", "discipline"],
        Query(description="the component of the Vanguard Index"),
    ],
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> ContributingEvents:
    """The events behind one component of a member's index, page by page (by source, then id)."""
    if not scope_of(viewer, org).allows_member(member_id):
        raise Problem(403, "Forbidden", f"{viewer.role} {viewer.subject} may not see {member_id}")
    if component == "discipline" and not may_see_violations(viewer, member_id, org):
        raise Problem(403, "Forbidden", f"{viewer.role} {viewer.subject} may not see violations")
    total, items = await repository.contributions_page(
        connection, quarter, "member", member_id, component, limit + 1, offset, _event_key(after)
    )
    if len(items) > limit:
        items = items[:limit]
        link_next(request, response, [items[-1]["source"], items[-1]["id"]])
    return ContributingEvents.model_validate(
        {
            "quarter": quarter,
            "member_id": member_id,
            "component": component,
            "total": total,
            "items": items,
        }
    )


def _event_key(after: str | None) -> tuple[str, str] | None:
    if after is None:
        return None
    match read_cursor(after):
        case [str() as source, str() as event_id]:
            return source, event_id
    raise invalid_cursor()


@router.get(
    "/quarters/{quarter}/selections",
    response_model=QuarterSelections,
    responses={**FINAL_OR_NOT, **VIEWER_PROBLEMS, **problems(404)},
)
async def selections(
    request: Request, quarter: QuarterParam, viewer: Viewer, connection: Connection
) -> Response:
    """Quarterly exemplars and excellent departments: provisional until the quarter closes."""
    selection = await repository.selection(connection, quarter)
    if not isinstance(selection, QuarterSelection):
        raise Problem(404, "No selections", f"nothing has been scored for {quarter}")
    late = await repository.late_events(connection, quarter) if viewer.role == "admin" else None
    answer = QuarterSelections.model_validate(
        {
            "quarter": quarter,
            "status": selection.status,
            "rules_version": selection.rules_version,
            "exemplars": selection.exemplars,
            "excellent_departments": selection.excellent_departments,
            "late_events": late,
        }
    )
    content = answer.model_dump_json(exclude={"late_events"} if late is None else None)
    return encoded_json_response(request, content.encode(), final=selection.status == "final")


@router.get(
    "/years/{year}/top-ten",
    response_model=YearTopTen,
    responses={**FINAL_OR_NOT, **VIEWER_PROBLEMS, **problems(404)},
)
async def top_ten(
    request: Request,
    year: Annotated[str, Path(pattern=YEAR_PATTERN, examples=["2026"])],
    viewer: Viewer,
    connection: Connection,
) -> Response:
    """The year-end top ten: final once the year's fourth quarter closes."""
    selection = await repository.selection(connection, year)
    if not isinstance(selection, YearTopTen):
        raise Problem(404, "No top ten", f"nothing has been scored for {year}")
    content = selection.model_dump_json().encode()
    return encoded_json_response(request, content, final=selection.status == "final")


@router.get(
    "/board/{quarter}",
    tags=["public"],
    response_model=Board,
    responses={**FINAL_OR_NOT, **problems(404, 422, 503)},
)
async def board(request: Request, quarter: QuarterParam) -> Response:
    """The public board (张榜公示): final exemplars and excellent departments. No token."""
    cache: ReadCache = request.app.state.read_cache
    content = await cache.through(
        "rankings",
        ("board", quarter, cache.generation("registry")),  # it shows department names
        lambda: _board(request.app.state.pool, quarter),
    )
    if not content:
        raise Problem(404, "Not published", f"the selections of {quarter} are not final yet")
    return encoded_json_response(request, content, final=True, public=True)


async def _board(pool: asyncpg.Pool, quarter: str) -> bytes:
    """The board of a quarter as JSON, or empty while its selections are not final."""
    async with pool.acquire() as connection:
        selection = await repository.selection(connection, quarter)
        if not isinstance(selection, QuarterSelection) or selection.status != "final":
            return b""
        departments = await repository.department_names(connection)
    board = Board(
        quarter=quarter,
        exemplars=[
            BoardExemplar(
                rank=m.rank,
                name=m.name,
                department=departments.get(m.department_id),
                index=m.index,
            )
            for m in selection.exemplars
        ],
        excellent_departments=[
            BoardDepartment(rank=d.rank, name=d.name, index=d.index)
            for d in selection.excellent_departments
        ],
    )
    return board.model_dump_json().encode()
