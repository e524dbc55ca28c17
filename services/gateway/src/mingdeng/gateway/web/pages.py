"""The dashboard's pages (SPEC §8), in Chinese, rendered on the server from what the API
answers the viewer (reads.py); actions publish events (actions.py)."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import asyncpg
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from mingdeng.contracts import events as ev
from mingdeng.contracts.derived import Bulletin
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.adapters.ingestion import Accepted, Conflict, Unavailable
from mingdeng.gateway.domain.access import Principal, Role
from mingdeng.gateway.entrypoints import activity
from mingdeng.gateway.entrypoints.deps import Connection, Organisation
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import actions, chinese, close_check, labels, people
from mingdeng.gateway.web.login import Account, LoginCodes, TooManyRequests
from mingdeng.gateway.web.reads import SCREEN, Unreadable, read, read_or
from mingdeng.gateway.web.session import (
    PAGE_ROLES,
    csrf_ok,
    csrf_token,
    end_session,
    keep_csrf,
    signed_in,
    start_session,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["labels"] = labels
templates.env.globals["cn"] = chinese


def local_time(moment: str | None) -> str:
    """An ISO moment of the API as Beijing time, to the minute ("—" when there is none)."""
    if not moment:
        return "—"
    return datetime.fromisoformat(moment).astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


templates.env.filters["local_time"] = local_time
HOME: dict[str, str] = {
    "admin": "/office",
    "secretary": "/branch",
    "leader": "/line",
    "member": "/me",
}


class PageError(Exception):
    """Shown to the person as a sentence on a page, with the HTTP status."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    viewer = signed_in(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "csrf": csrf_token(request), "home": HOME, **context},
        status_code=status,
    )
    keep_csrf(request, response)
    return response


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return page(request, "message.html", error.status, title="提示", sentence=error.sentence)


def explain(error: Unreadable) -> PageError:
    if error.status == 403:
        return PageError(403, "您的身份无权查看这部分内容。")
    if error.status == 503:
        return PageError(503, "数据库或消息服务暂时无法连接，请稍后刷新重试。")
    return PageError(error.status, f"数据暂时无法读取（错误 {error.status}），请稍后重试。")


def requires(*roles: Role):  # type: ignore[no-untyped-def]
    def check(request: Request) -> Principal:
        viewer = signed_in(request)
        if viewer is None:
            raise PageError(401, "请先登录。")
        if viewer.role not in roles:
            raise PageError(403, "您当前的身份无权打开此页面。")
        return viewer

    return check


def form_checked(request: Request, csrf: str) -> None:
    if not csrf_ok(request, csrf):
        raise PageError(403, "页面已过期或请求来源不明（CSRF 校验未通过），请刷新页面后重试。")


def this_quarter() -> str:
    return str(Quarter.of(datetime.now(UTC)))


def quarter_or_now(quarter: str | None) -> str:
    if quarter is None or quarter == "":
        return this_quarter()
    try:
        return str(Quarter.parse(quarter))
    except ValueError:
        raise PageError(422, f"“{quarter}”不是有效的季度，请写成 2026Q3 这样的形式。") from None


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


# --- login ---------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is not None:
        return RedirectResponse(HOME[viewer.role], status_code=303)
    return page(request, "home.html", title="明灯")


@router.get("/login")
async def login_form(request: Request) -> Response:
    return page(request, "login.html", title="登录", step="phone", phone="")


def _codes(request: Request) -> LoginCodes:
    codes: LoginCodes = request.app.state.login_codes
    return codes


@router.post("/login/code")
async def login_code(
    request: Request, phone: Annotated[str, Form()], csrf: Annotated[str, Form()] = ""
) -> Response:
    form_checked(request, csrf)
    phone = phone.strip().replace(" ", "")
    if not phone.lstrip("+").isdigit() or not 6 <= len(phone.lstrip("+")) <= 20:
        return page(
            request, "login.html", 422, title="登录", step="phone", phone=phone,
            sentence="请输入正确的手机号码（6 至 20 位数字）。",
        )  # fmt: skip
    address = request.client.host if request.client else "unknown"
    try:
        await _codes(request).request(request.app.state.pool, phone, address)
    except TooManyRequests as limited:
        minutes = max(1, round(limited.wait.total_seconds() / 60))
        return page(
            request, "login.html", 429, title="登录", step="phone", phone=phone,
            sentence=f"验证码请求过于频繁，请约 {minutes} 分钟后再试。",
        )  # fmt: skip
    return page(
        request, "login.html", title="登录", step="code", phone=phone,
        sentence="如果该号码已在系统登记，验证码短信已发出，5 分钟内有效。",
    )  # fmt: skip


@router.post("/login")
async def login(
    request: Request,
    phone: Annotated[str, Form()],
    code: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form_checked(request, csrf)
    phone = phone.strip().replace(" ", "")
    account = await _codes(request).verify(request.app.state.pool, phone, code)
    if account is None:
        return page(
            request, "login.html", 401, title="登录", step="code", phone=phone,
            sentence="验证码不正确或已过期，请重新输入或重新获取。",
        )  # fmt: skip
    return _signed_in_as(request, account)


def _signed_in_as(request: Request, account: Account, role: str | None = None) -> Response:
    roles = [r for r in PAGE_ROLES if r in account.roles]
    chosen = role if role in roles else roles[0]
    response = RedirectResponse(HOME[chosen], status_code=303)
    start_session(request, response, account.member_id, chosen)
    return response


@router.get("/login/dev")
async def development_login(request: Request, member_id: str, role: str | None = None) -> Response:
    """Development only (MINGDENG_GATEWAY_ENVIRONMENT=development, as under `make up`): sign in
    as a registered member without a code."""
    settings: GatewaySettings = request.app.state.settings
    if settings.environment != "development":
        raise PageError(404, "此页面不存在。")
    async with request.app.state.pool.acquire() as connection:
        account = await LoginCodes.account_of(connection, member_id)
    if account is None:
        raise PageError(404, f"没有在册的成员 {member_id}。")
    return _signed_in_as(request, account, role)


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
    return _signed_in_as(request, account, role)


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    form_checked(request, csrf)
    response = RedirectResponse("/", status_code=303)
    end_session(response)
    return response


async def roles_of(request: Request, viewer: Principal) -> list[str]:
    async with request.app.state.pool.acquire() as connection:
        account = await LoginCodes.account_of(connection, viewer.subject)
    return [r for r in PAGE_ROLES if account and r in account.roles]


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
async def office(request: Request, viewer: Admin, quarter: str | None = None) -> Response:
    quarter = quarter_or_now(quarter)
    year = int(quarter[:4])
    try:
        kpis = await read(request, "/v1/kpis", {"subject_type": "bureau", "limit": 500})
        lectures = await read(request, "/v1/lectures/stats", {"year": year})
        rotation = await read(request, "/v1/lectures/rotation", {"year": year})
        coverage = await read_or(request, f"/v1/outreach/coverage/{quarter}")
        open_tasks = await read(request, "/v1/tasks", {"status": "open", "limit": 500})
        bulletins = {m: await read_or(request, f"/v1/bulletins/{m}") for m in _months_back(6)}
    except Unreadable as error:
        raise explain(error) from None
    trend: dict[str, dict[str, Any]] = {}
    for item in kpis["items"]:
        series = trend.setdefault(item["metric"], {"unit": item["unit"], "points": {}})
        series["points"][item["period"]] = item["value"]
    latest = {
        metric: (max(s["points"].items())[1], s["unit"], max(s["points"]))
        for metric, s in trend.items()
    }
    money = {m: s for m, s in trend.items() if s["unit"] == "亿元"}
    periods = sorted({p for s in money.values() for p in s["points"]})
    kpi_chart = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 40, "right": 16, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value", "name": "亿元"},
        "series": [
            {"type": "line", "name": labels.metric(m), "smooth": True,
             "data": [s["points"].get(p) for p in periods]}
            for m, s in sorted(money.items())
        ],
    }  # fmt: skip
    violations = {
        m: (sum(b["violations_by_rule"].values()) if b else None) for m, b in bulletins.items()
    }
    violation_chart = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 40, "right": 16, "top": 20, "bottom": 30},
        "xAxis": {"type": "category", "data": list(violations)},
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
    tasks_by_kind = Counter(t["kind"] for t in open_tasks["items"])
    return page(
        request, "office.html", title="机关党办总览", charts=True, quarter=quarter, year=year,
        latest=latest,
        kpi_chart=json.dumps(kpi_chart, ensure_ascii=False), lectures=lectures, rotation=rotation,
        coverage=coverage, tasks_by_kind=tasks_by_kind, open_tasks=open_tasks["items"][:20],
        names=await member_names(request.app.state.pool),
        violation_chart=json.dumps(violation_chart, ensure_ascii=False), violations=violations,
        quarters=recent_quarters(),
    )  # fmt: skip


def vanguard_filters(department_id: str | None, branch_id: str | None) -> dict[str, str]:
    """The Vanguard ranking's filters as the API's query (the page and its export share them)."""
    chosen = {"department_id": department_id, "branch_id": branch_id}
    return {name: value for name, value in chosen.items() if value}


async def _rankings(
    request: Request, quarter: str, filters: dict[str, str], level: str
) -> dict[str, Any]:
    try:
        members = await read(request, f"/v1/quarters/{quarter}/vanguard", {**filters, "limit": 500})
        groups = await read(request, f"/v1/quarters/{quarter}/fortress", {"level": level})
        departments, branches = [
            await read(request, f"/v1/quarters/{quarter}/fortress", {"level": each, "limit": 500})
            for each in ("department", "branch")
        ]
    except Unreadable as error:
        raise explain(error) from None
    return {
        "members": members,
        "groups": groups,
        "department_names": {d["id"]: d["name"] for d in departments["items"]},
        "branch_names": {b["id"]: b["name"] for b in branches["items"]},
    }


@router.get("/rankings")
async def rankings(
    request: Request,
    viewer: AnyViewer,
    quarter: str | None = None,
    department_id: str | None = None,
    branch_id: str | None = None,
    level: str = "department",
    fragment: bool = False,
) -> Response:
    """Vanguard and Fortress of a quarter as the viewer may see them; live through /live."""
    quarter = quarter_or_now(quarter)
    if level not in ("department", "branch"):
        raise PageError(422, "堡垒指数只能按科室或支部排名。")
    filters = vanguard_filters(department_id, branch_id)
    data = await _rankings(request, quarter, filters, level)
    return page(
        request, "rankings_live.html" if fragment else "rankings.html", title="先锋指数与堡垒指数",
        quarter=quarter, department_id=department_id or "", branch_id=branch_id or "",
        vanguard_query=urlencode(filters), level=level, quarters=recent_quarters(), **data,
    )  # fmt: skip


@router.get("/office/selections")
async def selections(request: Request, viewer: Admin, quarter: str | None = None) -> Response:
    quarter = quarter_or_now(quarter)
    try:
        selection = await read_or(request, f"/v1/quarters/{quarter}/selections")
        top_ten = await read_or(request, f"/v1/years/{quarter[:4]}/top-ten")
        names = {
            d["id"]: d["name"]
            for d in (await read(request, f"/v1/quarters/{quarter}/fortress", {"limit": 500}))[
                "items"
            ]
        }
        closing = await close_check.check(request, quarter, datetime.now(UTC), details=False)
    except Unreadable as error:
        raise explain(error) from None
    return page(
        request, "selections.html", title="评选结果", quarter=quarter, selection=selection,
        top_ten=top_ten, department_names=names, quarters=recent_quarters(), closing=closing,
    )  # fmt: skip


async def _closable(request: Request, quarter: str, *, details: bool) -> close_check.CloseCheck:
    """The quarter's close check; a page refusing the close when the quarter may not close."""
    try:
        found = await close_check.check(request, quarter, datetime.now(UTC), details=details)
    except Unreadable as error:
        raise explain(error) from None
    if found.refusal:
        raise PageError(409, found.refusal)
    return found


@router.get("/office/selections/close")
async def confirm_close(request: Request, viewer: Admin, quarter: str) -> Response:
    """Before the close (it cannot be undone): what is still missing, and a typed confirmation."""
    quarter = quarter_or_now(quarter)
    found = await _closable(request, quarter, details=True)
    return page(request, "confirm_close.html", title="确认关闭季度", quarter=quarter, check=found)


@router.post("/office/selections/close")
async def close_quarter(
    request: Request,
    viewer: Admin,
    quarter: Annotated[str, Form()],
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form_checked(request, csrf)
    quarter = quarter_or_now(quarter)
    await _closable(request, quarter, details=False)
    if confirm.strip().upper() not in (quarter, chinese.quarter(quarter)):
        raise PageError(
            422, f"未关闭：确认框中须输入“{quarter}”（所关闭的季度），以免误关其他季度。"
        )
    event = actions.dashboard_event(
        ev.QuarterClosed(quarter=quarter), close_check.close_id(quarter), viewer
    )
    await publish_actions(request, [event])
    return page(
        request, "message.html", title="已提交", back=f"/office/selections?quarter={quarter}",
        sentence=f"{chinese.quarter(quarter)}（{quarter}）关闭已提交；评分完成后评选结果将定稿，"
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
    request: Request, viewer: Admin, month: str | None = None, copy: str = "office"
) -> Response:
    """督查通报 as a 公文: the office's copy lists the cases; the copy for circulation
    (`copy=circulation`) names no one (violations are the office's, SPEC §6)."""
    if copy not in ("office", "circulation"):
        raise PageError(422, "副本只能是机关党办存档（office）或印发（circulation）。")
    months = _months_back(25)
    try:
        if month is None:  # the latest issued month (this month's comes on the 1st of the next)
            found = None
            for candidate in reversed(months):
                found = await read_or(request, f"/v1/bulletins/{candidate}")
                if found is not None:
                    month = candidate
                    break
            month = month or months[-1]
        else:
            found = await read_or(request, f"/v1/bulletins/{month}")
    except Unreadable as error:
        raise explain(error) from None
    document = Bulletin.model_validate(found) if found is not None else None
    return page(
        request, "bulletin.html", title=f"{chinese.month(month)}督查通报", month=month,
        bulletin=document, months=months, copy=copy,
        issuer=chinese.issuer(request.app.state.settings.bureau_name),
        rules=sorted({int(r.strip("第条")) for r in document.violations_by_rule})
        if document else [],
    )  # fmt: skip


REFUSALS_PER_PAGE = 50


@router.get("/office/refused")
async def refused(request: Request, viewer: Admin, page_number: int = 1) -> Response:
    """死信与拒收: what upstream sent that was refused, with the reasons (GET /v1/dead-letters
    and /v1/rejected-events), newest first."""
    page_number = max(1, page_number)
    window = {"limit": REFUSALS_PER_PAGE, "offset": (page_number - 1) * REFUSALS_PER_PAGE}
    try:
        letters = await read(request, "/v1/dead-letters", window)
        rejected = await read(request, "/v1/rejected-events", window)
    except Unreadable as error:
        raise explain(error) from None
    more = max(letters["total"], rejected["total"]) > page_number * REFUSALS_PER_PAGE
    return page(
        request, "refused.html", title="死信与拒收事件", letters=letters, rejected=rejected,
        page_number=page_number, more=more,
    )  # fmt: skip


# --- member, leader, secretary -------------------------------------------------------------


@router.get("/me")
async def me(request: Request, viewer: AnyViewer, quarter: str | None = None) -> Response:
    quarter = quarter_or_now(quarter)
    member_id = viewer.subject
    try:
        index = await read_or(request, f"/v1/members/{member_id}/vanguard/{quarter}")
        households = await read_or(request, f"/v1/outreach/members/{member_id}/households")
        tasks = await read(request, "/v1/tasks", {"limit": 500})
    except Unreadable as error:
        if error.status == 403:  # a leader or secretary whose scope leaves themself out
            raise PageError(403, "以当前身份无法查看个人指数，请切换为“党员”身份。") from None
        raise explain(error) from None
    return page(
        request, "me.html", title="我的先锋指数", quarter=quarter, index=index,
        households=households, quarters=recent_quarters(),
        tasks=[t for t in tasks["items"] if member_id in (t["assignee_id"], t["member_id"])],
        names=await member_names(request.app.state.pool),
        roles=await roles_of(request, viewer),
    )  # fmt: skip


@router.get("/line")
async def line(request: Request, viewer: Leader, quarter: str | None = None) -> Response:
    quarter = quarter_or_now(quarter)
    try:
        departments = await read(request, f"/v1/quarters/{quarter}/fortress", {"limit": 500})
        tasks = await read(request, "/v1/tasks", {"assignee_id": viewer.subject, "limit": 500})
    except Unreadable as error:
        raise explain(error) from None
    commendations = [t for t in tasks["items"] if t["kind"] == "commendation"]
    exemplars = {t["member_id"] for t in commendations}
    return page(
        request, "line.html", title="分管科室与喜报到家", quarter=quarter,
        departments=departments, commendations=commendations, quarters=recent_quarters(),
        families=await people.families(request.app.state.pool, exemplars),
        names=await member_names(request.app.state.pool),
        roles=await roles_of(request, viewer),
    )  # fmt: skip


@router.post("/line/tasks/{task_id:path}/delivered")
async def mark_delivered(
    request: Request,
    task_id: str,
    viewer: Leader,
    notes: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """喜报到家: the leader delivered the commendation; published as visit.made (commendation)."""
    form_checked(request, csrf)
    try:
        tasks = await read(request, "/v1/tasks", {"assignee_id": viewer.subject, "limit": 500})
    except Unreadable as error:
        raise explain(error) from None
    task = next((t for t in tasks["items"] if t["task_id"] == task_id), None)
    if task is None or task["kind"] != "commendation":
        raise PageError(404, "没有找到分派给您的这项喜报到家任务。")
    visit = ev.VisitMade(
        visit_id=f"dashboard-{task_id}-{secrets.token_hex(4)}",
        member_id=viewer.subject,
        kind="commendation",
        target_member_id=task["member_id"],
        notes=notes.strip() or None,
    )
    await publish_actions(request, [actions.dashboard_event(visit, visit.visit_id, viewer)])
    return RedirectResponse("/line?delivered=" + task_id, status_code=303)


@router.get("/branch")
async def branch(request: Request, viewer: Secretary, quarter: str | None = None) -> Response:
    quarter = quarter_or_now(quarter)
    try:
        members = await read(request, f"/v1/quarters/{quarter}/vanguard", {"limit": 500})
        talks = await read(request, "/v1/outreach/talk-obligations")
    except Unreadable as error:
        raise explain(error) from None
    return page(
        request, "branch.html", title="本支部", quarter=quarter, members=members,
        talks=talks["items"], quarters=recent_quarters(), roles=await roles_of(request, viewer),
    )  # fmt: skip


# --- public ------------------------------------------------------------------------------------


@router.get("/board")
async def board(request: Request, quarter: str | None = None) -> Response:
    """公示栏: the final selections of a quarter (the latest final one by default)."""
    candidates = [quarter_or_now(quarter)] if quarter else recent_quarters()
    try:
        for candidate in candidates:
            found = await read_or(request, f"/v1/board/{candidate}")
            if found is not None:
                return page(request, "board.html", title=f"{candidate} 公示栏", board=found,
                            quarter=candidate, quarters=recent_quarters())  # fmt: skip
    except Unreadable as error:
        raise explain(error) from None
    sentence = (
        f"{candidates[0]} 季度的评选结果尚未定稿公示。"
        if quarter
        else "近两年还没有定稿公示的季度评选结果。"
    )
    return page(request, "board.html", title="公示栏", board=None, sentence=sentence,
                quarter=candidates[0], quarters=recent_quarters())  # fmt: skip


async def member_names(pool: asyncpg.Pool) -> dict[str, str]:
    """Names of members for the people shown in tasks (tasks carry ids only)."""
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT member_id, name FROM gateway.members")
    return {row["member_id"]: row["name"] for row in rows}
