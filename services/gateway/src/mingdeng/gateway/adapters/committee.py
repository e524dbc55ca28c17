"""What the 机关工委 sees across its agencies, read from the schema `committee`
(read_models/committee.py) and the agency tree: the typed seam that the API, the public pages
and the 机关工委 admin's own pages read (docs/committee.md).

The ranking of agencies (docs/committee.md, "Ranking agencies"): by the mean 堡垒指数 of their
branches in the quarter, higher first; ties by the quarter's coverage of paired households,
higher first; agencies still tied share the rank (listed by id). An agency without a scored
branch in the quarter is not ranked and comes last. Branches rank across agencies by their
堡垒指数 (ties share the rank). Both lists page by an opaque keyset cursor: the sort key of
the last item shown."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg
from pydantic import BaseModel, Field

from mingdeng.contracts.periods import BUSINESS_TZ

RANKING_RULE = (
    "各单位按本季度所属党支部堡垒指数的平均值由高到低排名；平均值相同的，按本季度联系困难群众"
    "走访覆盖率由高到低；仍相同的并列。本季度没有党支部堡垒指数的单位不参与排名。"
)


class Coverage(BaseModel):
    """Paired households and how many were visited in the quarter (outreach's figures)."""

    pairings: int
    visited: int
    rate: float | None


class AgencyStanding(BaseModel):
    """An agency's public figures for a quarter: aggregates and names only."""

    rank: int | None = Field(description="by the documented rule; none when not ranked")
    agency_id: str
    name: str
    parent_agency_id: str | None
    members: int = Field(description="active members")
    vanguard_mean: float | None = Field(description="mean 先锋指数 of its members")
    fortress_mean: float | None = Field(description="mean 堡垒指数 of its branches")
    branches: int = Field(description="branches with a 堡垒指数 in the quarter")
    lectures: int = Field(
        description="财政月讲堂 期 held in the quarter's year: months with a 微课堂 delivered"
    )
    micro_lectures: int = Field(description="微课堂 delivered in the quarter's year")
    coverage: Coverage | None


class AgencyFigures(AgencyStanding):
    """Everything the 机关工委 follows of an agency: its standing and its work in hand."""

    violations: int = Field(description="十不准 violations logged in the quarter, not retracted")
    open_tasks: int
    overdue_tasks: int = Field(description="open tasks past their due time")
    last_event_at: datetime | None = Field(description="when its latest event was received")


class BranchStanding(BaseModel):
    rank: int
    agency_id: str
    agency: str = Field(description="the agency's name")
    branch_id: str
    name: str
    index: float = Field(description="堡垒指数, 2 decimals (ranked on the exact value)")


class AgencyPage(BaseModel):
    items: list[AgencyFigures]
    total: int
    next_key: list[str] | None  # the sort key of the last item, while there are more


class BranchPage(BaseModel):
    items: list[BranchStanding]
    total: int
    next_key: list[str] | None


AGENCIES = """
    WITH figures AS (
        SELECT a.agency_id, a.name, a.parent_agency_id,
               coalesce(f.members, 0) AS members, f.last_event_at,
               q.vanguard_sum / nullif(q.vanguard_count, 0) AS vanguard_mean,
               q.fortress_sum / nullif(q.fortress_count, 0) AS fortress_mean,
               coalesce(q.fortress_count, 0) AS branches, coalesce(q.violations, 0) AS violations,
               (SELECT count(DISTINCT date_trunc('month', l.delivered_at AT TIME ZONE $9))
                  FROM committee.lectures l WHERE (l.agency, l.year) = (a.agency_id, $3))
                   AS lectures,
               coalesce(y.lectures, 0) AS micro_lectures, c.pairings, c.visited, c.rate,
               coalesce(q.fortress_sum / nullif(q.fortress_count, 0), -1) AS fortress_key,
               coalesce(c.rate::numeric, -1) AS coverage_key
          FROM gateway.agencies a
          LEFT JOIN committee.agency_figures f ON f.agency = a.agency_id
          LEFT JOIN committee.agency_quarters q ON (q.agency, q.quarter) = (a.agency_id, $2)
          LEFT JOIN committee.agency_years y ON (y.agency, y.year) = (a.agency_id, $3)
          LEFT JOIN committee.coverage c ON (c.agency, c.quarter) = (a.agency_id, $2)
         WHERE a.committee_id = $1),
    ranked AS (
        SELECT *, CASE WHEN branches > 0
                       THEN rank() OVER (ORDER BY fortress_key DESC, coverage_key DESC) END
                  AS rank
          FROM figures)
    SELECT r.*,
           (SELECT count(*) FROM committee.tasks t WHERE t.agency = r.agency_id AND t.open)
               AS open_tasks,
           (SELECT count(*) FROM committee.tasks t
             WHERE t.agency = r.agency_id AND t.open AND t.due < $4) AS overdue_tasks
      FROM ranked r
     WHERE $5::numeric IS NULL
        OR (-r.fortress_key, -r.coverage_key, r.agency_id COLLATE "C")
           > (-$5::numeric, -$6::numeric, $7::text COLLATE "C")
     ORDER BY r.fortress_key DESC, r.coverage_key DESC, r.agency_id COLLATE "C"
     LIMIT $8"""

BRANCHES = """
    WITH ranked AS (
        SELECT b.agency, a.name AS agency_name, b.branch_id, b.name, b.index, b.index_exact,
               rank() OVER (ORDER BY b.index_exact DESC) AS rank
          FROM committee.branch_scores b JOIN gateway.agencies a ON a.agency_id = b.agency
         WHERE b.quarter = $2 AND a.committee_id = $1)
    SELECT * FROM ranked
     WHERE $3::float8 IS NULL
        OR (-index_exact, agency COLLATE "C", branch_id COLLATE "C")
           > (-$3::float8, $4::text COLLATE "C", $5::text COLLATE "C")
     ORDER BY index_exact DESC, agency COLLATE "C", branch_id COLLATE "C"
     LIMIT $6"""


async def committee_name(connection: asyncpg.Connection, committee_id: str) -> str | None:
    """The committee's name: the agency of its tree whose id is the committee's (the 机关工委's
    own office is an agency of its tree); None when the committee has no agency at all."""
    rows = await connection.fetch(
        """SELECT agency_id, name FROM gateway.agencies WHERE committee_id = $1
            ORDER BY agency_id = $1 DESC LIMIT 1""",
        committee_id,
    )
    if not rows:
        return None
    own = rows[0]
    return str(own["name"]) if own["agency_id"] == committee_id else f"{committee_id} 机关工委"


async def agencies(
    connection: asyncpg.Connection,
    committee_id: str,
    quarter: str,
    now: datetime,
    after: list[str] | None = None,
    limit: int = 100,
) -> AgencyPage:
    """The committee's agencies in the order of the ranking, with their figures; `after`: the
    `next_key` of the page before."""
    fortress, coverage, agency = after or (None, None, None)
    rows = await connection.fetch(
        AGENCIES,
        committee_id,
        quarter,
        int(quarter[:4]),
        now,
        None if fortress is None else Decimal(fortress),
        None if coverage is None else Decimal(coverage),
        agency,
        limit + 1,
        BUSINESS_TZ.key,
    )
    total = await connection.fetchval(
        "SELECT count(*) FROM gateway.agencies WHERE committee_id = $1", committee_id
    )
    shown = rows[:limit]
    last = shown[-1] if shown and len(rows) > limit else None
    return AgencyPage(
        items=[_figures(row) for row in shown],
        total=total,
        next_key=None
        if last is None
        else [str(last["fortress_key"]), str(last["coverage_key"]), last["agency_id"]],
    )


def _figures(row: asyncpg.Record) -> AgencyFigures:
    return AgencyFigures(
        rank=row["rank"],
        agency_id=row["agency_id"],
        name=row["name"],
        parent_agency_id=row["parent_agency_id"],
        members=row["members"],
        vanguard_mean=_mean(row["vanguard_mean"]),
        fortress_mean=_mean(row["fortress_mean"]),
        branches=row["branches"],
        lectures=row["lectures"],
        micro_lectures=row["micro_lectures"],
        coverage=None
        if row["pairings"] is None
        else Coverage(pairings=row["pairings"], visited=row["visited"], rate=row["rate"]),
        violations=row["violations"],
        open_tasks=row["open_tasks"],
        overdue_tasks=row["overdue_tasks"],
        last_event_at=row["last_event_at"],
    )


def _mean(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 2)


async def branches(
    connection: asyncpg.Connection,
    committee_id: str,
    quarter: str,
    after: list[str] | None = None,
    limit: int = 100,
) -> BranchPage:
    """Every branch of the committee's agencies with its 堡垒指数 in the quarter, best first."""
    index, agency, branch = after or (None, None, None)
    rows = await connection.fetch(
        BRANCHES,
        committee_id,
        quarter,
        None if index is None else float(index),
        agency,
        branch,
        limit + 1,
    )
    total = await connection.fetchval(
        """SELECT count(*) FROM committee.branch_scores b
             JOIN gateway.agencies a ON a.agency_id = b.agency
            WHERE b.quarter = $2 AND a.committee_id = $1""",
        committee_id,
        quarter,
    )
    shown = rows[:limit]
    last = shown[-1] if shown and len(rows) > limit else None
    return BranchPage(
        items=[
            BranchStanding(
                rank=row["rank"],
                agency_id=row["agency"],
                agency=row["agency_name"],
                branch_id=row["branch_id"],
                name=row["name"],
                index=row["index"],
            )
            for row in shown
        ],
        total=total,
        next_key=None
        if last is None
        else [repr(last["index_exact"]), last["agency"], last["branch_id"]],
    )
