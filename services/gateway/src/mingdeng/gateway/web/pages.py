"""The dashboard's pages (SPEC §8), in Chinese, rendered on the server from what the API
answers the viewer (reads.py); actions publish events (actions.py)."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import asyncpg
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem
from mingdeng.contracts.conduct import TEN_RULES
from mingdeng.contracts.derived import Task, YearTopTen
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.adapters import work
from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.gateway.adapters.ingestion import Accepted, Conflict, Unavailable
from mingdeng.gateway.domain.access import Principal, Role
from mingdeng.gateway.entrypoints import activity
from mingdeng.gateway.entrypoints.answers import Board as BoardAnswer
from mingdeng.gateway.entrypoints.answers import (
    CoverageAnswer,
    FortressRanking,
    HouseholdsAnswer,
    IssuedBulletin,
    Kpis,
    LectureStats,
    MemberIndex,
    MemberRank,
    QuarterSelections,
    TalkObligations,
    Tasks,
    VanguardRanking,
)
from mingdeng.gateway.entrypoints.deps import Connection, Organisation
from mingdeng.gateway.entrypoints.office import DeadLetters, RejectedEvents, SpeakerRotation
from mingdeng.gateway.entrypoints.orglife import Attendance
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import actions, close_check, labels, people
from mingdeng.gateway.web.evidence import evidence
from mingdeng.gateway.web.forms import form_checked
from mingdeng.gateway.web.login import (
    COMMITTEE_ADMIN_SUBJECT,
    Account,
    Choice,
    LoginCodes,
    TooManyRequests,
    choices,
    committee_agencies,
)
from mingdeng.gateway.web.reads import SCREEN, Api, PageError, ScreenApi, ViewerApi
from mingdeng.gateway.web.session import (
    PAGE_ROLES,
    choosing,
    csrf_token,
    end_session,
    keep_csrf,
    signed_in,
    start_choosing,
    start_session,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["labels"] = labels
templates.env.globals["ten_rules"] = TEN_RULES


def local_time(moment: datetime | None) -> str:
    """A moment of the API as Beijing time, to the minute, in Chinese ("—" when there is none)."""
    if moment is None:
        return "—"
    return f"{labels.day(moment)} {moment.astimezone(BUSINESS_TZ):%H:%M}"


templates.env.filters["local_time"] = local_time
templates.env.filters["quarter_cn"] = labels.quarter
templates.env.filters["month_cn"] = labels.month
templates.env.filters["day"] = labels.day
HOME: dict[str, str] = {
    "admin": "/office",
    "secretary": "/branch",
    "leader": "/line",
    "member": "/me",
}
COMMITTEE_HOME = "/committee"  # a 机关工委 admin's own page; 进入 an agency goes to its HOME


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    viewer = signed_in(request)
    account: Account | None = getattr(request.state, "account", None)
    roles = [r for r in PAGE_ROLES if account and r in account.roles]
    response = templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "account": account, "roles": roles, "csrf": csrf_token(request),
         "home": HOME, "unread": getattr(request.state, "unread", 0),
         "agencies": getattr(request.state, "agencies", ()), **context},
        status_code=status,
    )  # fmt: skip
    keep_csrf(request, response)
    return response


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return page(request, "message.html", error.status, title="提示", sentence=error.sentence)


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    """The signed-in viewer in one of `roles`; their account (name and roles, for the header)
    kept on the request for `page`."""

    async def check(request: Request) -> Principal:
        viewer = signed_in(request)
        if viewer is None:
            raise PageError(401, "请先登录。")
        if viewer.role not in roles:
            raise PageError(403, "您当前的身份无权打开此页面。")
        async with request.app.state.pool.acquire() as connection:
            request.state.account = await LoginCodes.account_of(connection, viewer.subject)
            request.state.unread = await work.unread(
                connection, viewer.subject, await work.read_until(connection, viewer.subject)
            )
        if viewer.committee is not None:  # the top bar's agency switcher
            request.state.agencies = await committee_agencies(
                request.app.state.pool, viewer.committee
            )
        return viewer

    return check


def this_quarter() -> str:
    return str(Quarter.of(datetime.now(UTC)))


def quarter_or_now(quarter: str | None) -> str:
    if quarter is None or quarter == "":
        return this_quarter()
    try:
        return str(Quarter.parse(quarter))
    except ValueError:
        raise PageError(422, f"“{quarter}”不是有效的季度，请从列表中选择季度。") from None


def recent_quarters(count: int = 8) -> list[str]:
    quarter = Quarter.of(datetime.now(UTC))
    found = []
    for _ in range(count):
        found.append(str(quarter))
        quarter = quarter.previous()
    return found


Admin = Annotated[Principal, Depends(requires("admin"))]
AnyViewer = Annotated[Principal, Depends(requires(*PAGE_ROLES))]
Leader = Annotated[Principal, Depends(requires("leader"))]
Secretary = Annotated[Principal, Depends(requires("secretary"))]
# a branch's reports are confirmed by its secretary; the office (机关党办) confirms any, which is
# how a secretary's own report is confirmed
Reviewer = Annotated[Principal, Depends(requires("secretary", "admin"))]


# --- login ---------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is not None:
        home = COMMITTEE_HOME if viewer.committee is not None else HOME[viewer.role]
        return RedirectResponse(home, status_code=303)
    return page(request, "home.html", title="明灯")


def return_to(path: str) -> str | None:
    """Where to go after signing in: a page of this site asked for while signed out (the QR
    code of a lecture's 签到 opened on a phone), never another site nor the login itself."""
    if not path.startswith("/") or path.startswith(("//", "/\\", "/login")) or len(path) > 500:
        return None
    return path if path.isprintable() and "\\" not in path else None


@router.get("/login")
async def login_form(request: Request, after: str = "") -> Response:
    return page(request, "login.html", title="登录", step="phone", phone="",
                after=return_to(after))  # fmt: skip


def _codes(request: Request) -> LoginCodes:
    codes: LoginCodes = request.app.state.login_codes
    return codes


@router.post("/login/code")
async def login_code(
    request: Request, phone: Annotated[str, Form()], csrf: Annotated[str, Form()] = "",
    after: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    form_checked(request, csrf)
    phone, after_login = phone.strip().replace(" ", ""), return_to(after)
    if not phone.lstrip("+").isdigit() or not 6 <= len(phone.lstrip("+")) <= 20:
        return page(
            request, "login.html", 422, title="登录", step="phone", phone=phone,
            sentence="请输入正确的手机号码（6 至 20 位数字）。", after=after_login,
        )  # fmt: skip
    address = request.client.host if request.client else "unknown"
    try:
        await _codes(request).request(request.app.state.pool, phone, address)
    except TooManyRequests as limited:
        minutes = max(1, round(limited.wait.total_seconds() / 60))
        return page(
            request, "login.html", 429, title="登录", step="phone", phone=phone,
            sentence=f"验证码请求过于频繁，请约 {minutes} 分钟后再试。", after=after_login,
        )  # fmt: skip
    return page(
        request, "login.html", title="登录", step="code", phone=phone,
        sentence="如果该号码已在系统登记，验证码短信已发出，5 分钟内有效。", after=after_login,
    )  # fmt: skip


@router.post("/login")
async def login(
    request: Request,
    phone: Annotated[str, Form()],
    code: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    after: Annotated[str, Form()] = "",
) -> Response:
    form_checked(request, csrf)
    phone, after_login = phone.strip().replace(" ", ""), return_to(after)
    places = await _codes(request).verify(request.app.state.pool, phone, code)
    if not places:
        return page(
            request, "login.html", 401, title="登录", step="code", phone=phone,
            sentence="验证码不正确或已过期，请重新输入或重新获取。", after=after_login,
        )  # fmt: skip
    if len(places) == 1:
        return await _signed_in_at(request, places[0], after=after_login)
    response = page(
        request, "login_choose.html", title="选择登录单位", choices=places, after=after_login
    )
    start_choosing(request, response, phone)
    return response


@router.post("/login/agency")
async def login_at(
    request: Request,
    place: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    after: Annotated[str, Form()] = "",
) -> Response:
    """The place a number registered in several agencies (or a 机关工委 admin) chose."""
    form_checked(request, csrf)
    phone = choosing(request)
    if phone is None:
        raise PageError(401, "选择单位的时间已过，请重新获取验证码登录。")
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        places = await choices(connection, phone)
    chosen = next((each for each in places if each.value == place), None)
    if chosen is None:
        raise PageError(403, "该手机号码没有在这个单位登记。")
    return await _signed_in_at(request, chosen, after=return_to(after))


async def _signed_in_at(request: Request, place: Choice, after: str | None = None) -> Response:
    if place.committee_id is not None:
        viewer = Principal(
            COMMITTEE_ADMIN_SUBJECT, "admin", agency=place.agency_id, committee=place.committee_id
        )
        response = RedirectResponse(after or COMMITTEE_HOME, status_code=303)
        start_session(request, response, viewer)
        return response
    assert place.member_id is not None
    token = current_agency.set(place.agency_id)
    try:
        async with request.app.state.pool.acquire() as connection:
            account = await LoginCodes.account_of(connection, place.member_id)
    finally:
        current_agency.reset(token)
    if account is None:
        raise PageError(403, "该成员已不在册。")
    return _signed_in_as(request, account, place.agency_id, after=after)


def _signed_in_as(
    request: Request,
    account: Account,
    agency: str,
    role: str | None = None,
    after: str | None = None,
) -> Response:
    """Signed in, on to the page asked for before (`after`), or else to the role's home."""
    roles = [r for r in PAGE_ROLES if r in account.roles]
    chosen = role if role in roles else roles[0]
    response = RedirectResponse(after or HOME[chosen], status_code=303)
    start_session(request, response, Principal(account.member_id, chosen, agency=agency))
    return response


@router.get("/login/dev")
async def development_login(
    request: Request,
    member_id: str | None = None,
    role: str | None = None,
    agency: str = DEFAULT_AGENCY,
    committee: str | None = None,
) -> Response:
    """Development only (MINGDENG_GATEWAY_ENVIRONMENT=development, as under `make up`): sign in
    as a registered member of `agency` without a code, or (`committee`) as that 机关工委's admin."""
    settings: GatewaySettings = request.app.state.settings
    if settings.environment != "development":
        raise PageError(404, "此页面不存在。")
    if committee is not None:
        tree = await committee_agencies(request.app.state.pool, committee)
        if not tree:
            raise PageError(404, f"机关工委 {committee} 下没有登记的单位。")
        place = Choice(tree[0][0], tree[0][1], "机关工委管理员", committee_id=committee)
        return await _signed_in_at(request, place)
    if agency_id_problem(agency) is not None or member_id is None:
        raise PageError(404, "没有这个单位或成员。")
    token = current_agency.set(agency)
    try:
        async with request.app.state.pool.acquire() as connection:
            account = await LoginCodes.account_of(connection, member_id)
    except asyncpg.UndefinedTableError:
        account = None  # an agency without any record yet
    finally:
        current_agency.reset(token)
    if account is None:
        raise PageError(404, f"没有在册的成员 {member_id}。")
    return _signed_in_as(request, account, agency, role)


@router.post("/role")
async def switch_role(
    request: Request,
    viewer: AnyViewer,
    role: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form_checked(request, csrf)
    async with request.app.state.pool.acquire() as connection:
        account = await LoginCodes.account_of(connection, viewer.subject)
    if account is None or role not in account.roles:
        raise PageError(403, "您没有这个身份。")
    return _signed_in_as(request, account, viewer.agency, role)


@router.post("/agency")
async def switch_agency(
    request: Request,
    viewer: AnyViewer,
    agency: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A 机关工委 admin goes to another agency of its committee's tree (the top bar's 切换单位)."""
    form_checked(request, csrf)
    if viewer.committee is None:
        raise PageError(403, "只有机关工委管理员可以切换单位。")
    tree = {each for each, _ in await committee_agencies(request.app.state.pool, viewer.committee)}
    if agency not in tree:
        raise PageError(403, "该单位不在本机关工委管辖范围内。")
    response = RedirectResponse(HOME["admin"], status_code=303)
    start_session(request, response, replace(viewer, agency=agency))
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    form_checked(request, csrf)
    response = RedirectResponse("/", status_code=303)
    end_session(response)
    return response


# --- the live stream -----------------------------------------------------------------------


@router.get("/live")
async def live(
    request: Request, viewer: AnyViewer, org: Organisation, connection: Connection
) -> StreamingResponse:
    """GET /v1/stream for the signed-in viewer (a browser's EventSource sends the cookie)."""
    return await activity.stream(request, viewer, org, connection)


@router.get("/screen/live")
async def screen_live(request: Request, org: Organisation, connection: Connection) -> Response:
    """The stream of the big screen: which indices changed (level, id, quarter), nothing else."""
    return await activity.stream(request, SCREEN, org, connection)


# --- office ----------------------------------------------------------------------------------


def _months_back(count: int) -> list[str]:
    month = date.today().replace(day=1)
    found = []
    for _ in range(count):
        found.append(month.strftime("%Y-%m"))
        month = (month - timedelta(days=1)).replace(day=1)
    return list(reversed(found))


@router.get("/office")
async def office(
    request: Request, viewer: Admin, api: ViewerApi, quarter: str | None = None
) -> Response:
    quarter = quarter_or_now(quarter)
    year = int(quarter[:4])
    kpis = await api.get(Kpis, "/v1/kpis", {"subject_type": "bureau", "limit": 500})
    lectures = await api.get(LectureStats, "/v1/lectures/stats", {"year": year})
    rotation = await api.get(SpeakerRotation, "/v1/lectures/rotation", {"year": year})
    coverage = await api.find(CoverageAnswer, f"/v1/outreach/coverage/{quarter}")
    open_tasks = await api.get(Tasks, "/v1/tasks", {"status": "open", "limit": 500})
    bulletins = {m: await api.find(IssuedBulletin, f"/v1/bulletins/{m}") for m in _months_back(6)}
    trend: dict[str, dict[str, float]] = {}
    units: dict[str, str | None] = {}
    for item in kpis.items:
        trend.setdefault(item.metric, {})[item.period] = item.value
        units[item.metric] = item.unit
    latest = {
        metric: (points[max(points)], units[metric], labels.period(max(points)))
        for metric, points in trend.items()
    }
    money = {m: points for m, points in trend.items() if units[m] == "亿元"}
    periods = sorted({p for points in money.values() for p in points})
    kpi_chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 40, "right": 16, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": [labels.period(p) for p in periods]},
        "yAxis": {"type": "value", "name": "亿元"},
        "series": [
            {"type": "line", "name": labels.metric(m), "smooth": True,
             "data": [points.get(p) for p in periods]}
            for m, points in sorted(money.items())
        ],
    }  # fmt: skip
    violations = {m: (b.violations if b else None) for m, b in bulletins.items()}
    violation_chart = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 40, "right": 16, "top": 20, "bottom": 30},
        "xAxis": {"type": "category", "data": [labels.month(m) for m in violations]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "type": "bar",
                "name": "违反“十不准”（起）",
                "data": list(violations.values()),
                "label": {"show": True, "position": "top"},
            }
        ],
    }
    tasks_by_kind = Counter(t.kind for t in open_tasks.items)
    return page(
        request, "office.html", title="机关党办总览", charts=True, quarter=quarter, year=year,
        latest=latest,
        kpi_chart=json.dumps(kpi_chart, ensure_ascii=False), lectures=lectures, rotation=rotation,
        coverage=coverage, tasks_by_kind=tasks_by_kind,
        open_tasks=tasks_in_order(open_tasks.items)[:20], names=await api.directory(),
        violation_chart=json.dumps(violation_chart, ensure_ascii=False), violations=violations,
        quarters=recent_quarters(),
    )  # fmt: skip


@dataclass(frozen=True)
class TaskRow:
    """A task as a person reads it: 逾期 once an open task is past due."""

    task: Task
    state: str  # open, overdue, done, cancelled
    days_overdue: int


def tasks_in_order(tasks: list[Task], now: datetime | None = None) -> list[TaskRow]:
    """Overdue first (longest overdue first), then open (soonest due first), then the rest
    (latest first)."""
    now = now or datetime.now(UTC)
    rows = []
    for task in tasks:
        overdue = task.status == "open" and task.due < now
        state = "overdue" if overdue else task.status
        rows.append(TaskRow(task, state, (now - task.due).days if overdue else 0))
    place = {"overdue": 0, "open": 1}

    def order(row: TaskRow) -> tuple[int, float]:
        due = row.task.due.timestamp()
        return place.get(row.state, 2), due if row.state in place else -due

    return sorted(rows, key=order)


def vanguard_filters(department_id: str | None, branch_id: str | None) -> dict[str, str]:
    """The Vanguard ranking's filters as the API's query (the page and its export share them)."""
    chosen = {"department_id": department_id, "branch_id": branch_id}
    return {name: value for name, value in chosen.items() if value}


RANKS_PER_PAGE = 50


async def all_items(
    api: Api, answer: type[VanguardRanking] | type[FortressRanking], path: str,
    params: dict[str, str],
) -> tuple[Any, list[Any]]:  # fmt: skip
    """The first answer of a ranking and every item of it (500 a page)."""
    first = await api.get(answer, path, {**params, "limit": 500})
    items = list(first.items)
    while len(items) < first.total:
        more = await api.get(answer, path, {**params, "limit": 500, "offset": len(items)})
        if not more.items:
            break
        items.extend(more.items)
    return first, items


def tied(items: list[Any], position: int) -> bool:
    """Whether the item at `position` shows the same index as its neighbour (并列)."""
    index = items[position].index
    return any(
        0 <= other < len(items) and items[other].index == index
        for other in (position - 1, position + 1)
    )


@dataclass(frozen=True)
class RankingPage:
    members: VanguardRanking
    shown: list[MemberRank]
    ties: set[str]
    matched: int
    page_number: int
    pages: int
    groups: FortressRanking
    group_ties: set[str]
    department_names: dict[str, str]
    branch_names: dict[str, str]
    unreported: list[str]  # components no one has yet this quarter (reported at its end)


async def _rankings(
    api: Api, quarter: str, filters: dict[str, str], level: str, search: str = "",
    page_number: int = 1,
) -> RankingPage:  # fmt: skip
    path = f"/v1/quarters/{quarter}"
    members, items = await all_items(api, VanguardRanking, f"{path}/vanguard", filters)
    groups = await api.get(FortressRanking, f"{path}/fortress", {"level": level, "limit": 500})
    departments = await api.get(
        FortressRanking, f"{path}/fortress", {"level": "department", "limit": 500}
    )
    branches = await api.get(FortressRanking, f"{path}/fortress", {"level": "branch", "limit": 500})
    ties = {m.member_id for position, m in enumerate(items) if tied(items, position)}
    matching = [m for m in items if search.strip() in m.name] if search.strip() else items
    pages = max(1, -(-len(matching) // RANKS_PER_PAGE))
    page_number = min(max(1, page_number), pages)
    start = (page_number - 1) * RANKS_PER_PAGE
    unreported = [
        name for name in ("performance", "business")
        if members.status != "final" and any(name in m.components for m in items)
        and all(m.components.get(name, 0) == 0 for m in items)
    ] + [
        name for name in ("business",)
        if groups.status != "final" and any(name in g.components for g in groups.items)
        and all(g.components.get(name, 0) == 0 for g in groups.items)
    ]  # fmt: skip
    return RankingPage(
        members=members,
        shown=matching[start : start + RANKS_PER_PAGE],
        ties=ties,
        matched=len(matching),
        page_number=page_number,
        pages=pages,
        groups=groups,
        group_ties={
            g.id for position, g in enumerate(groups.items) if tied(groups.items, position)
        },
        department_names={d.id: d.name for d in departments.items},
        branch_names={b.id: b.name for b in branches.items},
        unreported=sorted(set(unreported)),
    )


@router.get("/rankings")
async def rankings(
    request: Request,
    viewer: AnyViewer,
    api: ViewerApi,
    quarter: str | None = None,
    department_id: str | None = None,
    branch_id: str | None = None,
    level: str = "department",
    q: str = "",
    page_number: int = 1,
    fragment: bool = False,
) -> Response:
    """Vanguard and Fortress of a quarter as the viewer may see them, searched by name and paged;
    live through /live."""
    quarter = quarter_or_now(quarter)
    if level not in ("department", "branch"):
        raise PageError(422, "堡垒指数只能按科室或支部排名。")
    filters = vanguard_filters(department_id, branch_id)
    data = await _rankings(api, quarter, filters, level, q, page_number)
    query = urlencode({**filters, **({"q": q} if q else {}), "page_number": data.page_number})
    return page(
        request, "rankings_live.html" if fragment else "rankings.html", title="先锋指数与堡垒指数",
        quarter=quarter, department_id=department_id or "", branch_id=branch_id or "",
        vanguard_query=urlencode(filters), page_query=query, level=level, search=q,
        quarters=recent_quarters(), ranking=data, members=data.members, groups=data.groups,
        department_names=data.department_names, branch_names=data.branch_names,
    )  # fmt: skip


@router.get("/office/selections")
async def selections(
    request: Request, viewer: Admin, api: ViewerApi, quarter: str | None = None
) -> Response:
    quarter = quarter_or_now(quarter)
    selection = await api.find(QuarterSelections, f"/v1/quarters/{quarter}/selections")
    top_ten = await api.find(YearTopTen, f"/v1/years/{quarter[:4]}/top-ten")
    closing = await close_check.check(api, quarter, datetime.now(UTC), details=False)
    return page(
        request, "selections.html", title="评选结果", quarter=quarter, selection=selection,
        top_ten=top_ten, names=await api.directory(), quarters=recent_quarters(), closing=closing,
    )  # fmt: skip


async def _closable(api: Api, quarter: str, *, details: bool) -> close_check.CloseCheck:
    """The quarter's close check; a page refusing the close when the quarter may not close."""
    found = await close_check.check(api, quarter, datetime.now(UTC), details=details)
    if found.refusal:
        raise PageError(409, found.refusal)
    return found


@router.get("/office/selections/close")
async def confirm_close(request: Request, viewer: Admin, api: ViewerApi, quarter: str) -> Response:
    """Before the close (it cannot be undone): what is still missing, and a typed confirmation."""
    quarter = quarter_or_now(quarter)
    found = await _closable(api, quarter, details=True)
    return page(request, "confirm_close.html", title="确认关闭季度", quarter=quarter, check=found)


@router.post("/office/selections/close")
async def close_quarter(
    request: Request,
    viewer: Admin,
    api: ViewerApi,
    quarter: Annotated[str, Form()],
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form_checked(request, csrf)
    quarter = quarter_or_now(quarter)
    await _closable(api, quarter, details=False)
    if confirm.strip().upper() not in (quarter, labels.quarter(quarter)):
        raise PageError(
            422, f"未关闭：确认框中须输入“{quarter}”（所关闭的季度），以免误关其他季度。"
        )
    event = actions.dashboard_event(
        ev.QuarterClosed(quarter=quarter), close_check.close_id(quarter), viewer
    )
    await publish_actions(request, [event])
    return page(
        request, "message.html", title="已提交", back=f"/office/selections?quarter={quarter}",
        sentence=f"{labels.quarter(quarter)}（{quarter}）关闭已提交；评分完成后评选结果将定稿，"
        "可在公示栏发布。",
    )  # fmt: skip


async def publish_actions(request: Request, events: list[Any]) -> Accepted:
    """All of `events` published, or none; refusals as sentences."""
    try:
        return await actions.publish(request, events)
    except Conflict:
        raise PageError(409, "这项操作此前已用不同的内容提交过，未再次发布。") from None
    except Unavailable:
        raise PageError(503, "消息服务暂时不可用，操作未发布，请稍后重试。") from None
    except InvalidEvent as invalid:
        raise PageError(422, f"操作未发布：{invalid}") from None


@router.get("/office/bulletin")
async def bulletin(
    request: Request, viewer: Admin, api: ViewerApi, month: str | None = None,
    copy: str = "office",
) -> Response:  # fmt: skip
    """督查通报 as a 公文: the office's copy lists the cases; the copy for circulation
    (`copy=circulation`) names no one (violations are the office's, SPEC §6)."""
    if copy not in ("office", "circulation"):
        raise PageError(422, "副本只能是机关党办存档（office）或印发（circulation）。")
    months = _months_back(25)
    found = None
    if month is None:  # the latest issued month (this month's comes on the 1st of the next)
        for candidate in reversed(months):
            found = await api.find(IssuedBulletin, f"/v1/bulletins/{candidate}")
            if found is not None:
                month = candidate
                break
        month = month or months[-1]
    else:
        found = await api.find(IssuedBulletin, f"/v1/bulletins/{month}")
    return page(
        request, "bulletin.html", title=f"{labels.month(month)}督查通报", month=month,
        bulletin=found, months=months, copy=copy,
        issuer=labels.issuer(request.app.state.settings.bureau_name),
        rules=sorted({int(r.strip("第条")) for r in found.violations_by_rule}) if found else [],
    )  # fmt: skip


REFUSALS_PER_PAGE = 50


@router.get("/office/refused")
async def refused(
    request: Request, viewer: Admin, api: ViewerApi, page_number: int = 1
) -> Response:
    """数据接收异常: what upstream sent that was refused, with the reasons in words and as the
    machine gave them (GET /v1/dead-letters and /v1/rejected-events), newest first."""
    page_number = max(1, page_number)
    window = {"limit": REFUSALS_PER_PAGE, "offset": (page_number - 1) * REFUSALS_PER_PAGE}
    letters = await api.get(DeadLetters, "/v1/dead-letters", window)
    rejected = await api.get(RejectedEvents, "/v1/rejected-events", window)
    more = max(letters.total, rejected.total) > page_number * REFUSALS_PER_PAGE
    return page(
        request, "refused.html", title="数据接收异常", letters=letters, rejected=rejected,
        page_number=page_number, more=more,
    )  # fmt: skip


# --- member, leader, secretary -------------------------------------------------------------


async def _explained(
    request: Request, api: Api, member_id: str, quarter: str, own: bool, screen: Api
) -> Response:
    """A member's index explained: component by component, each event in words."""
    index = await api.find(MemberIndex, f"/v1/members/{member_id}/vanguard/{quarter}")
    names = await api.directory()
    ranked = await screen.get(VanguardRanking, f"/v1/quarters/{quarter}/vanguard", {"limit": 1})
    households = tasks = attendance = None
    if own:
        attendance = await api.find(Attendance, f"/v1/members/{member_id}/meetings", {"limit": 12})
        households = await api.find(
            HouseholdsAnswer, f"/v1/outreach/members/{member_id}/households"
        )
        found = await api.get(Tasks, "/v1/tasks", {"limit": 500})
        tasks = tasks_in_order(
            [t for t in found.items if member_id in (t.assignee_id, t.member_id)]
        )
    explained = {
        component: evidence(index.events.get(component, []), names, index.details)
        for component in index.components
    } if index else {}  # fmt: skip
    name = names.member(member_id)
    return page(
        request, "me.html", title="我的先锋指数" if own else f"{name}的先锋指数", quarter=quarter,
        index=index, explained=explained, ranked_total=ranked.total, own=own, person=name,
        department=names.department_of(member_id), households=households, tasks=tasks,
        attendance=attendance, names=names, quarters=recent_quarters(),
    )  # fmt: skip


@router.get("/me")
async def me(
    request: Request, viewer: AnyViewer, api: ViewerApi, screen: ScreenApi,
    quarter: str | None = None,
) -> Response:  # fmt: skip
    quarter = quarter_or_now(quarter)
    try:
        return await _explained(request, api, viewer.subject, quarter, True, screen)
    except PageError as error:
        if error.status == 403:  # a leader or secretary whose scope leaves themself out
            raise PageError(403, "以当前身份无法查看个人指数，请切换为“党员”身份。") from None
        raise


@router.get("/members/{member_id}")
async def member(
    request: Request, member_id: str, viewer: AnyViewer, api: ViewerApi, screen: ScreenApi,
    quarter: str | None = None,
) -> Response:  # fmt: skip
    """Another member's index explained, where the viewer may see it (the API decides)."""
    quarter = quarter_or_now(quarter)
    own = member_id == viewer.subject
    return await _explained(request, api, member_id, quarter, own, screen)


@router.get("/line")
async def line(
    request: Request, viewer: Leader, api: ViewerApi, quarter: str | None = None
) -> Response:
    quarter = quarter_or_now(quarter)
    departments = await api.get(FortressRanking, f"/v1/quarters/{quarter}/fortress", {"limit": 500})
    tasks = await api.get(Tasks, "/v1/tasks", {"assignee_id": viewer.subject, "limit": 500})
    commendations = tasks_in_order([t for t in tasks.items if t.kind == "commendation"])
    exemplars = {row.task.member_id for row in commendations}
    return page(
        request, "line.html", title="分管科室与喜报到家", quarter=quarter,
        departments=departments, commendations=commendations, quarters=recent_quarters(),
        addresses=await people.home_addresses(request.app.state.pool, exemplars),
        names=await api.directory(),
    )  # fmt: skip


@router.post("/line/tasks/{task_id:path}/delivered")
async def mark_delivered(
    request: Request,
    task_id: str,
    viewer: Leader,
    api: ViewerApi,
    notes: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """喜报到家: the leader delivered the commendation; published as visit.made (commendation)."""
    form_checked(request, csrf)
    tasks = await api.get(Tasks, "/v1/tasks", {"assignee_id": viewer.subject, "limit": 500})
    task = next((t for t in tasks.items if t.task_id == task_id), None)
    if task is None or task.kind != "commendation":
        raise PageError(404, "没有找到分派给您的这项喜报到家任务。")
    visit = ev.VisitMade(
        visit_id=f"dashboard-{task_id}-{secrets.token_hex(4)}",
        member_id=viewer.subject,
        kind="commendation",
        target_member_id=task.member_id,
        notes=notes.strip() or None,
    )
    await publish_actions(request, [actions.dashboard_event(visit, visit.visit_id, viewer)])
    return RedirectResponse("/line?delivered=" + task_id, status_code=303)


@router.get("/branch")
async def branch(
    request: Request, viewer: Secretary, api: ViewerApi, quarter: str | None = None
) -> Response:
    quarter = quarter_or_now(quarter)
    members = await api.get(VanguardRanking, f"/v1/quarters/{quarter}/vanguard", {"limit": 500})
    talks = await api.get(TalkObligations, "/v1/outreach/talk-obligations")
    place = {"overdue": 0, "open": 1}
    return page(
        request, "branch.html", title="本支部", quarter=quarter, members=members,
        ties={m.member_id for i, m in enumerate(members.items) if tied(members.items, i)},
        talks=sorted(talks.items, key=lambda t: (place.get(t.status, 2), t.due)),
        quarters=recent_quarters(), names=await api.directory(),
    )  # fmt: skip


# --- public ------------------------------------------------------------------------------------


@router.get("/board")
async def board(request: Request, api: ViewerApi, quarter: str | None = None) -> Response:
    """公示栏: the final selections of a quarter (the latest final one by default)."""
    candidates = [quarter_or_now(quarter)] if quarter else recent_quarters()
    for candidate in candidates:
        found = await api.find(BoardAnswer, f"/v1/board/{candidate}")
        if found is not None:
            return page(request, "board.html", title=f"{labels.quarter(candidate)} 公示栏",
                        board=found, quarter=candidate, quarters=recent_quarters())  # fmt: skip
    sentence = (
        f"{labels.quarter(candidates[0])}的评选结果尚未定稿公示。"
        if quarter
        else "近两年还没有定稿公示的季度评选结果。"
    )
    return page(request, "board.html", title="公示栏", board=None, sentence=sentence,
                quarter=candidates[0], quarters=recent_quarters())  # fmt: skip
