"""The 机关工委's pages across its agencies (issue 25, item 5; docs/committee.md).

`/committee`, the 机关工委管理员's own page: every agency of its tree with its figures (the
admin-only `/v1/committees/{id}/agencies`), the ranking of branches across agencies, and 进入
for each agency (the top bar's switcher, `POST /agency`). The public board
`/committee/{id}/board` (公示栏: the agencies ranked and every branch by 堡垒指数) and big
screen `/committee/{id}/screen` (1920×1080, redrawn every minute) read the public API
(`/ranking`, `/branches`): aggregates and the names of agencies and branches, never a person, a
violation or a task."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.adapters.committee import AgencyFigures
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.entrypoints.committees import (
    CommitteeAgencies,
    CommitteeBranches,
    CommitteeRanking,
)
from mingdeng.gateway.web import labels
from mingdeng.gateway.web.pages import Admin, page, quarter_or_now, recent_quarters
from mingdeng.gateway.web.reads import Api, PageError, ViewerApi
from mingdeng.gateway.web.screen import _bars

router = APIRouter(include_in_schema=False)
BOARD_BRANCHES = 100  # a page of the branch ranking on the board; the rest page by page
SCREEN_BRANCHES = 10
SCREEN_REFRESH_S = 60
COMMITTEE_BRANCHES = 50  # a page of the branch ranking on the 机关工委管理员's page


def committee_of(viewer: Principal) -> str:
    """The committee of a 机关工委管理员's session; anyone else is refused with a sentence."""
    if viewer.committee is None:
        raise PageError(403, "此页面仅供机关工委管理员查看，您当前的身份无权打开。")
    return viewer.committee


async def committee_figures(
    api: Api, committee_id: str, quarter: str
) -> tuple[CommitteeAgencies, list[AgencyFigures]]:
    """The first answer of the committee's agencies and every agency in the ranking's order
    (500 a page: a province's thousand agencies are two reads)."""
    path = f"/v1/committees/{committee_id}/agencies"
    first = await api.get(CommitteeAgencies, path, {"quarter": quarter, "limit": 500})
    items, after = list(first.items), first.next
    while after is not None:
        more = await api.get(CommitteeAgencies, path,
                             {"quarter": quarter, "limit": 500, "after": after})  # fmt: skip
        items.extend(more.items)
        after = more.next
    return first, items


@router.get("/committee")
async def committee_home(
    request: Request, viewer: Admin, api: ViewerApi, quarter: str | None = None,
    after: str | None = None,
) -> Response:  # fmt: skip
    """The 机关工委管理员's page: each agency of its tree, the agencies ranked, every branch."""
    committee_id = committee_of(viewer)
    quarter = quarter_or_now(quarter)
    first, agencies = await committee_figures(api, committee_id, quarter)
    branches = await _branches(api, committee_id, quarter, COMMITTEE_BRANCHES, after)
    now = datetime.now(UTC)
    return page(
        request, "committee.html", title=f"{first.name} · 各单位总览", committee=first,
        figures=agencies, branches=branches, quarter=quarter, quarters=recent_quarters(),
        received={a.agency_id: labels.ago(a.last_event_at, now) for a in agencies},
        members=sum(a.members for a in agencies), next_after=branches.next,
        lectures=sum(a.lectures for a in agencies),
        open_tasks=sum(a.open_tasks for a in agencies),
        overdue_tasks=sum(a.overdue_tasks for a in agencies),
    )  # fmt: skip


async def _branches(
    api: Api, committee_id: str, quarter: str, limit: int, after: str | None = None
) -> CommitteeBranches:
    """A page of the branches of the committee's tree by 堡垒指数 (public)."""
    return await api.get(CommitteeBranches, f"/v1/committees/{committee_id}/branches",
                         {"quarter": quarter, "limit": limit, "after": after})  # fmt: skip


async def _ranking(api: ViewerApi, committee_id: str, quarter: str) -> CommitteeRanking:
    return await api.get(CommitteeRanking, f"/v1/committees/{committee_id}/ranking",
                         {"quarter": quarter, "limit": 500})  # fmt: skip


@router.get("/committee/{committee_id}/board")
async def board(
    request: Request, committee_id: str, api: ViewerApi, quarter: str | None = None,
    after: str | None = None,
) -> Response:  # fmt: skip
    """公示栏 of the whole tree: the agencies in the ranking's order, then the branches."""
    quarter = quarter_or_now(quarter)
    ranking = await _ranking(api, committee_id, quarter)
    branches = await _branches(api, committee_id, quarter, BOARD_BRANCHES, after)
    return page(request, "committee_board.html", title=f"{ranking.name} 公示栏",
                ranking=ranking, branches=branches, quarter=quarter, quarters=recent_quarters(),
                next_after=branches.next)  # fmt: skip


@router.get("/committee/{committee_id}/screen")
async def screen(request: Request, committee_id: str, api: ViewerApi) -> Response:
    """数据大屏 of the whole tree (1920×1080)."""
    now = datetime.now(UTC)
    quarter = quarter_or_now(None)
    ranking = await _ranking(api, committee_id, quarter)
    branches = await _branches(api, committee_id, quarter, SCREEN_BRANCHES)
    agencies = ranking.items
    ranked = [a for a in agencies if a.fortress_mean is not None]
    covered = [a for a in agencies if a.coverage is not None and a.coverage.rate is not None]
    charts: dict[str, Any] = {
        "fortress": _bars([a.name for a in ranked], [a.fortress_mean or 0 for a in ranked],
                          "#e53935"),
        "vanguard": _bars([a.name for a in agencies if a.vanguard_mean is not None],
                          [a.vanguard_mean or 0 for a in agencies if a.vanguard_mean is not None],
                          "#c79a2c"),
        "lectures": _bars([a.name for a in agencies], [a.lectures for a in agencies], "#ef6c00"),
        "coverage": _bars([a.name for a in covered],
                          [round(100 * (a.coverage.rate or 0), 1) for a in covered if a.coverage],
                          "#8d6e63"),
    }  # fmt: skip
    return page(
        request, "committee_screen.html", title=f"{ranking.name} 数据大屏", ranking=ranking,
        branches=branches, quarter=quarter, refresh_s=SCREEN_REFRESH_S,
        members=sum(a.members for a in agencies), branch_count=branches.total,
        lectures=sum(a.lectures for a in agencies), agency_rows=max(1, len(agencies)),
        charts={name: json.dumps(chart, ensure_ascii=False) for name, chart in charts.items()},
        updated=now.astimezone(BUSINESS_TZ).strftime("%H:%M:%S"),
    )  # fmt: skip
