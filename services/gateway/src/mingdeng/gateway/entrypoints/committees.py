"""The 机关工委's view across its agencies (issue 25, item 5; docs/committee.md): each agency's
figures (the 机关工委's admins of that committee only), and the public rankings of agencies and
of branches across agencies (aggregates and names only, no token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from mingdeng.contracts.periods import QUARTER_PATTERN, Quarter
from mingdeng.gateway.adapters import committee
from mingdeng.gateway.adapters.committee import AgencyFigures, AgencyStanding, BranchStanding
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.entrypoints.deps import VIEWER_PROBLEMS, Connection, Limit, principal
from mingdeng.gateway.entrypoints.paging import (
    NEXT_LINK,
    After,
    cursor,
    invalid_cursor,
    link_next,
    read_cursor,
)
from mingdeng.gateway.entrypoints.problems import Problem, problems

router = APIRouter(prefix="/v1/committees", tags=["committee"])

CommitteeParam = Annotated[
    str, Path(min_length=1, max_length=128, examples=["jggw"], description="the 机关工委's id")
]
QuarterQuery = Annotated[
    str | None,
    Query(pattern=QUARTER_PATTERN, examples=["2026Q3"], description="default: the current one"),
]


async def committee_admin(
    committee_id: CommitteeParam, viewer: Annotated[Principal, Depends(principal)]
) -> Principal:
    """The 机关工委 admin of `committee_id` (a token or session naming that committee): an
    agency's admin, or another committee's, is refused before anything is read."""
    if viewer.committee != committee_id:
        raise Problem(403, "Forbidden", "only the committee's own admins see its agencies' figures")
    return viewer


TreeViewer = Annotated[Principal, Depends(committee_admin)]


class CommitteeAnswer(BaseModel):
    committee_id: str
    name: str = Field(description="the 机关工委's name")
    quarter: str
    total: int = Field(description="items in the whole list")
    next: str | None = Field(
        default=None, description="`after` of the next page (as in the `Link` header), if any"
    )


class CommitteeAgencies(CommitteeAnswer):
    rule: str = Field(description="how agencies are ranked (docs/committee.md)")
    items: list[AgencyFigures]


class CommitteeRanking(CommitteeAnswer):
    rule: str = Field(description="how agencies are ranked (docs/committee.md)")
    items: list[AgencyStanding]


class CommitteeBranches(CommitteeAnswer):
    items: list[BranchStanding]


def _quarter(quarter: str | None) -> str:
    return quarter or str(Quarter.of(datetime.now(UTC)))


def _cursor(key: list[str] | None) -> str | None:
    return None if key is None else cursor(key)


def _key(after: str | None) -> list[str] | None:
    if after is None:
        return None
    key = read_cursor(after)
    if len(key) != 3 or not all(isinstance(part, str) for part in key):
        raise invalid_cursor()
    return [str(part) for part in key]


async def _name(connection: Connection, committee_id: str) -> str:
    name = await committee.committee_name(connection, committee_id)
    if name is None:
        raise Problem(404, "No such committee", f"no agency belongs to {committee_id!r}")
    return name


async def _agencies(
    connection: Connection, committee_id: str, quarter: str, after: str | None, limit: int
) -> tuple[str, committee.AgencyPage]:
    name = await _name(connection, committee_id)
    key = _key(after)
    try:
        page = await committee.agencies(
            connection, committee_id, quarter, datetime.now(UTC), key, limit
        )
    except ArithmeticError:  # a cursor whose numbers are not numbers
        raise invalid_cursor() from None
    return name, page


@router.get(
    "/{committee_id}/agencies",
    response_model=CommitteeAgencies,
    responses={**VIEWER_PROBLEMS, **NEXT_LINK},
)
async def agencies(
    request: Request,
    response: Response,
    committee_id: CommitteeParam,
    viewer: TreeViewer,
    connection: Connection,
    quarter: QuarterQuery = None,
    limit: Limit = 100,
    after: After = None,
) -> CommitteeAgencies:
    """Each agency of the committee in the ranking's order: members, mean 先锋指数 and 堡垒指数,
    讲堂 期 of the year, coverage, violations, open and overdue tasks, last event received.
    For the committee's 机关工委 admins only (a token whose `committee` is this one): an
    agency's admin, or another committee's, is refused with 403."""
    quarter = _quarter(quarter)
    name, page = await _agencies(connection, committee_id, quarter, after, limit)
    link_next(request, response, page.next_key)
    return CommitteeAgencies(committee_id=committee_id, name=name, quarter=quarter,
                             total=page.total, rule=committee.RANKING_RULE,
                             next=_cursor(page.next_key), items=page.items)  # fmt: skip


@router.get(
    "/{committee_id}/ranking",
    tags=["public"],
    response_model=CommitteeRanking,
    responses={**problems(404, 422, 503), **NEXT_LINK},
)
async def ranking(
    request: Request,
    response: Response,
    committee_id: CommitteeParam,
    connection: Connection,
    quarter: QuarterQuery = None,
    limit: Limit = 100,
    after: After = None,
) -> CommitteeRanking:
    """The agencies ranked by the documented rule, with their public figures. No token."""
    quarter = _quarter(quarter)
    name, page = await _agencies(connection, committee_id, quarter, after, limit)
    link_next(request, response, page.next_key)
    items = [AgencyStanding.model_validate(item, from_attributes=True) for item in page.items]
    return CommitteeRanking(committee_id=committee_id, name=name, quarter=quarter,
                            total=page.total, rule=committee.RANKING_RULE,
                            next=_cursor(page.next_key), items=items)  # fmt: skip


@router.get(
    "/{committee_id}/branches",
    tags=["public"],
    response_model=CommitteeBranches,
    responses={**problems(404, 422, 503), **NEXT_LINK},
)
async def branches(
    request: Request,
    response: Response,
    committee_id: CommitteeParam,
    connection: Connection,
    quarter: QuarterQuery = None,
    limit: Limit = 100,
    after: After = None,
) -> CommitteeBranches:
    """Every branch of every agency of the committee ranked by its 堡垒指数. No token."""
    quarter = _quarter(quarter)
    name = await _name(connection, committee_id)
    key = _key(after)
    try:
        page = await committee.branches(connection, committee_id, quarter, key, limit)
    except ValueError:  # a cursor whose index is not a number
        raise invalid_cursor() from None
    link_next(request, response, page.next_key)
    return CommitteeBranches(committee_id=committee_id, name=name, quarter=quarter,
                             total=page.total, next=_cursor(page.next_key),
                             items=page.items)  # fmt: skip
