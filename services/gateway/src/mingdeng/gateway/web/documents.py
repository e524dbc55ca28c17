"""Documents to print: the 喜报 a leader carries to an exemplar's family (喜报到家), and the
季讲评, the quarterly review of conduct (the report's 日提醒、月通报、季讲评). The monthly
督查通报 is in pages.py. Each prints on A4 (app.css: @page gongwen, @page xibao)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from mingdeng.contracts.derived import BulletinCase, Task
from mingdeng.contracts.periods import Quarter
from mingdeng.gateway.entrypoints.answers import IssuedBulletin, TalkObligations, Tasks
from mingdeng.gateway.web import labels
from mingdeng.gateway.web.orglife_pages import quarter_life
from mingdeng.gateway.web.pages import Admin, AnyViewer, page, quarter_or_now, recent_quarters
from mingdeng.gateway.web.people import home_addresses
from mingdeng.gateway.web.reads import Api, PageError, ViewerApi

router = APIRouter(include_in_schema=False)
TASK_PAGE = 500


async def commendation(api: Api, viewer_role: str, viewer_id: str, task_id: str) -> Task:
    """The commendation task `task_id` as the viewer may see it: the leader it is assigned
    to, or the office."""
    query: dict[str, str | int] = {"limit": TASK_PAGE}
    if viewer_role != "admin":
        query["assignee_id"] = viewer_id
    offset = 0
    while True:
        found = await api.get(Tasks, "/v1/tasks", {**query, "offset": offset})
        for task in found.items:
            if task.task_id == task_id and task.kind == "commendation":
                return task
        offset += TASK_PAGE
        if offset >= found.total:
            raise PageError(404, "没有找到这项喜报到家任务，或它没有分派给您。")


@router.get("/commendations/{task_id:path}")
async def certificate(
    request: Request, viewer: AnyViewer, api: ViewerApi, task_id: str
) -> Response:
    """喜报: the certificate of one exemplar, printable on one A4 page (landscape)."""
    if viewer.role not in ("leader", "admin"):
        raise PageError(403, "喜报由分管的党组成员或机关党办打印。")
    task = await commendation(api, viewer.role, viewer.subject, task_id)
    names = await api.directory()
    if task.member_id not in names.members:
        raise PageError(404, "这位标兵不在党员名册中。")
    person = names.member(task.member_id)
    addresses = await home_addresses(request.app.state.pool, {task.member_id})
    return page(
        request, "certificate.html", title=f"喜报 · {person}", task=task, person=person,
        department=names.department_of(task.member_id),
        home_address=addresses.get(task.member_id),
        bureau=request.app.state.settings.bureau_name, quarter_name=labels.quarter(task.cause),
        dated=labels.day(task.created_at),
    )  # fmt: skip


# --- 季讲评 -----------------------------------------------------------------------------


def months_of(quarter: Quarter) -> list[str]:
    return [f"{quarter.year}-{3 * quarter.number - 2 + i:02d}" for i in range(3)]


@dataclass(frozen=True)
class Conduct:
    """A quarter's conduct from its months' bulletins: what was issued of it."""

    quarter: str
    issued: list[str]  # the months whose bulletin is out
    by_rule: Counter[int]
    by_department: Counter[str]
    violations: int
    retractions: int
    cases: list[BulletinCase]


async def conduct(api: Api, quarter: Quarter) -> Conduct:
    bulletins = []
    for month in months_of(quarter):
        found = await api.find(IssuedBulletin, f"/v1/bulletins/{month}")
        if found is not None:
            bulletins.append(found)
    by_rule: Counter[int] = Counter()
    by_department: Counter[str] = Counter()
    for bulletin in bulletins:
        by_rule.update({int(r.strip("第条")): n for r, n in bulletin.violations_by_rule.items()})
        by_department.update(bulletin.violations_by_department)
    return Conduct(
        str(quarter),
        [b.month for b in bulletins],
        by_rule,
        by_department,
        sum(b.violations for b in bulletins),
        sum(b.retractions for b in bulletins),
        [case for b in bulletins for case in b.cases],
    )


@dataclass(frozen=True)
class Talks:
    """谈心谈话 after the quarter's violations: due, held (on time or late), still open."""

    due: int
    on_time: int
    late: int
    open: int
    overdue: int


def talks_of(obligations: TalkObligations, quarter: Quarter) -> Talks:
    mine = [t for t in obligations.items if quarter.start <= t.violation_at < quarter.end]
    held = [t for t in mine if t.status == "done" and t.done_at is not None]
    on_time = sum(1 for t in held if t.done_at is not None and t.done_at <= t.due)
    return Talks(
        due=len(mine),
        on_time=on_time,
        late=len(held) - on_time,
        open=sum(1 for t in mine if t.status == "open"),
        overdue=sum(1 for t in mine if t.status == "overdue"),
    )


@router.get("/office/review")
async def review(
    request: Request, viewer: Admin, api: ViewerApi, quarter: str | None = None
) -> Response:
    """季讲评: the quarter's conduct (violations by rule and department, retractions, talks held
    against talks due) beside the previous quarter's; the latest ended quarter by default."""
    now = datetime.now(UTC)
    chosen = Quarter.parse(quarter_or_now(quarter)) if quarter else Quarter.of(now).previous()
    this, before = await conduct(api, chosen), await conduct(api, chosen.previous())
    obligations = await api.get(TalkObligations, "/v1/outreach/talk-obligations")
    rules = sorted(set(this.by_rule) | set(before.by_rule))
    departments = sorted(set(this.by_department) | set(before.by_department))
    return page(
        request, "review.html", title=f"{labels.quarter(str(chosen))}季讲评",
        quarter=str(chosen), previous=str(chosen.previous()), this=this, before=before,
        rules=rules, departments=departments, talks=talks_of(obligations, chosen),
        life=await quarter_life(api, chosen), names=await api.directory(),
        ended=now >= chosen.end, months=months_of(chosen), quarters=recent_quarters(),
        issuer=labels.issuer(request.app.state.settings.bureau_name), dated=labels.day(now),
    )  # fmt: skip
