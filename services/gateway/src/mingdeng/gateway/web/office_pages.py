"""The office's work on the pages (issue 23): the roster (党员名册) and the organisation, the
财政月讲堂 (a 期 and its 微课堂, delivered, signed into by QR code) and the 十不准 logged by
the office as inspector. Every action is an event from `/dashboard` (actions.py) with its
actor; every form carries its own token (forms.py); each action has a page of its
history (/office/actions)."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from mingdeng.contracts import events as ev
from mingdeng.contracts.conduct import TEN_RULES, rule_text
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.entrypoints.office import SpeakerRotation
from mingdeng.gateway.entrypoints.roster import (
    Action,
    Actions,
    LectureDetail,
    Lectures,
    Organisation,
    Roster,
    RosterMember,
)
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import actions, forms, labels, sheets
from mingdeng.gateway.web.directory import Directory
from mingdeng.gateway.web.pages import Admin, AnyViewer, page, publish_actions
from mingdeng.gateway.web.reads import Api, PageError, ViewerApi

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
ROLE_CHOICES: tuple[ev.Role, ...] = ("member", "secretary", "leader", "admin")
MICRO_LECTURES_PER_FORM = 3
MEMBER_FIELDS = {"name": "姓名", "department_id": "科室", "phone": "手机号", "roles": "身份",
                 "party_member": "政治面貌", "born_on": "出生日期",
                 "joined_party_on": "入党时间", "position": "职务"}  # fmt: skip
LECTURE_FIELDS = {"date": "日期", "module": "模块", "theme": "主题", "title": "题目",
                  "speaker_id": "主讲人"}  # fmt: skip
VIOLATION_FIELDS = {"member_id": "党员", "rule": "违反条款", "description": "情况描述"}
# the history page of each kind of action, and the event types it lists
HISTORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "roster": ("党员名册", ("mingdeng.member.registered.v1", "mingdeng.member.left.v1")),
    "organisation": ("组织机构", ("mingdeng.branch.registered.v1",
                                  "mingdeng.department.registered.v1")),
    "lectures": (labels.LECTURE_HALL, ("mingdeng.lecture.scheduled.v1",
                                       "mingdeng.lecture.delivered.v1")),
    "sign-in": ("讲堂扫码签到", ("mingdeng.lecture.attended.v1",)),
    "violations": ("“十不准”登记", ("mingdeng.violation.logged.v1",)),
}  # fmt: skip
ACTION_NAMES = {
    "mingdeng.member.left.v1": "停用成员",
    "mingdeng.branch.registered.v1": "登记支部",
    "mingdeng.department.registered.v1": "登记科室",
    "mingdeng.lecture.scheduled.v1": f"安排{labels.MICRO_LECTURE}",
    "mingdeng.lecture.delivered.v1": "标记为已讲授",
    "mingdeng.lecture.attended.v1": "签到",
    "mingdeng.violation.logged.v1": "登记违反“十不准”",
}


def action_name(action: Action) -> str:
    if action.type == "mingdeng.member.registered.v1":
        return "登记新成员" if action.id.startswith("register-") else "修改成员信息"
    return ACTION_NAMES.get(action.type, labels.event_type(action.type))


def today() -> date:
    return datetime.now(BUSINESS_TZ).date()


def next_id(prefix: str, taken: Iterable[str], width: int) -> str:
    """The next free `prefix` + number after the highest number already taken with `prefix`."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    numbers = [int(m[1]) for t in taken if (m := pattern.match(t))]
    return f"{prefix}{max(numbers, default=0) + 1:0{width}d}"


def form_token(request: Request, viewer: Principal, action: str) -> str:
    return forms.tokens(request).issue(viewer, action)


async def _refuse_if_submitted(request: Request, event_ids: list[str]) -> None:
    async with request.app.state.pool.acquire() as connection:
        await forms.refuse_if_submitted(connection, event_ids)


async def _publish(
    request: Request, viewer: Principal, items: list[tuple[ev.EventData, str]],
    time: datetime | None = None,
) -> None:  # fmt: skip
    """Publish the (payload, event id) of one form, all or none, unless it was sent before."""
    await _refuse_if_submitted(request, [event_id for _, event_id in items])
    events: list[Event[ev.EventData]] = [
        actions.dashboard_event(data, event_id, viewer, time) for data, event_id in items
    ]
    await publish_actions(request, events)


def _date_or_none(text: str) -> date | str | None:
    """A date typed in a form, None when empty, or the text itself when it is no date."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


# --- the roster and the organisation ---------------------------------------------------------


@router.get("/office/roster")
async def roster(
    request: Request, viewer: Admin, api: ViewerApi, q: str = "", department_id: str = "",
    branch_id: str = "", role: str = "", status: str = "active", page_number: int = 1,
) -> Response:  # fmt: skip
    """党员名册: searched by name, 科室, 支部 and role; 50 a page."""
    if status not in ("active", "left", "all"):
        status = "active"
    filters = {"q": q.strip(), "department_id": department_id, "branch_id": branch_id,
               "role": role if role in ROLE_CHOICES else "", "status": status}  # fmt: skip
    page_number = max(1, page_number)
    found = await api.get(Roster, "/v1/members", {**filters, "limit": PER_PAGE,
                          "offset": (page_number - 1) * PER_PAGE})  # fmt: skip
    org = await api.get(Organisation, "/v1/organisation")
    return page(
        request, "office_roster.html", title="党员名册", roster=found, org=org,
        filters=filters, page_number=page_number, pages=max(1, -(-found.total // PER_PAGE)),
        names=await api.directory(), role_choices=ROLE_CHOICES,
    )  # fmt: skip


@dataclass(frozen=True)
class MemberForm:
    """What a member form shows: the values typed (or registered) and the reasons per field."""

    member_id: str
    values: dict[str, Any]
    errors: dict[str, str]
    version: str = ""


def _member_values(member: RosterMember | None) -> dict[str, Any]:
    if member is None:
        return {"name": "", "department_id": "", "phone": "", "roles": ["member"],
                "party_member": True, "born_on": "", "joined_party_on": "", "position": ""}  # fmt: skip
    return {"name": member.name, "department_id": member.department_id,
            "phone": member.phone or "", "roles": list(member.roles),
            "party_member": member.party_member,
            "born_on": member.born_on.isoformat() if member.born_on else "",
            "joined_party_on": member.joined_party_on.isoformat() if member.joined_party_on else "",
            "position": member.position or ""}  # fmt: skip


async def _member_page(
    request: Request, viewer: Principal, api: Api, form: MemberForm, member: RosterMember | None, status: int = 200,
) -> Response:  # fmt: skip
    org = await api.get(Organisation, "/v1/organisation")
    return page(
        request, "office_member.html", status, title=member.name if member else "登记新成员",
        member=member, form=form, org=org, role_choices=ROLE_CHOICES, token=form_token(request, viewer, "roster"),
        names=await api.directory(),
    )  # fmt: skip


@router.get("/office/roster/new")
async def new_member(request: Request, viewer: Admin, api: ViewerApi) -> Response:
    taken = await _member_ids(request)
    form = MemberForm(next_id("m", taken, 3), _member_values(None), {})
    return await _member_page(request, viewer, api, form, None)


async def _member_ids(request: Request) -> list[str]:
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch("SELECT member_id FROM members")
    return [r["member_id"] for r in rows]


def _registration(
    member_id: str, values: dict[str, Any], org: Organisation
) -> tuple[ev.MemberRegistered | None, dict[str, str]]:
    """The registration a member form asks for, or the reasons per field it is not valid, as
    the API would refuse it, and the references the office can get wrong."""
    errors: dict[str, str] = {}
    dates = {f: _date_or_none(values[f]) for f in ("born_on", "joined_party_on")}
    for field, found in dates.items():
        if isinstance(found, str):
            errors[field] = "应为日期，如 2026-09-15"
        elif found is not None and found > today():
            errors[field] = "不能晚于今天"
    try:
        registration = ev.MemberRegistered(
            member_id=member_id, name=values["name"], department_id=values["department_id"],
            phone=values["phone"].replace(" ", "") or None, roles=tuple(values["roles"]),
            party_member=values["party_member"], position=values["position"] or None,
            **{f: d for f, d in dates.items() if isinstance(d, date)},
        )  # fmt: skip
    except ValidationError as error:
        errors = {**forms.reasons(error, MEMBER_FIELDS), **errors}
        registration = None
    departments = {d.department_id for d in org.departments}
    if values["department_id"] and values["department_id"] not in departments:
        errors["department_id"] = "没有这个科室，请从列表中选择"
    if "member" not in values["roles"]:
        errors["roles"] = "每位成员都有“党员”身份（可另加其他身份）"
    return (None if errors else registration), errors


class MemberFields(BaseModel):
    """The member form as sent (the new member's generated id, or the version edited)."""

    token: str = ""
    csrf: str = ""
    member_id: str = ""
    version: str = ""
    name: str = ""
    department_id: str = ""
    phone: str = ""
    roles: list[str] = []
    party_member: str = "yes"
    born_on: str = ""
    joined_party_on: str = ""
    position: str = ""

    def values(self) -> dict[str, Any]:
        return {"name": self.name.strip(), "department_id": self.department_id,
                "phone": self.phone.strip(), "roles": [r for r in ROLE_CHOICES if r in self.roles],
                "party_member": self.party_member == "yes", "born_on": self.born_on,
                "joined_party_on": self.joined_party_on,
                "position": self.position.strip()}  # fmt: skip


@router.post("/office/roster/new")
async def register_member(
    request: Request, viewer: Admin, api: ViewerApi, sent: Annotated[MemberFields, Form()]
) -> Response:
    """登记新成员: member.registered with a new id."""
    nonce = forms.checked_form(request, sent.csrf, sent.token, viewer, "roster")
    member_id, values = sent.member_id, sent.values()
    org = await api.get(Organisation, "/v1/organisation")
    registration, errors = _registration(member_id, values, org)
    if registration is None:
        return await _member_page(
            request, viewer, api, MemberForm(member_id, values, errors), None, 422
        )
    event_id = f"register-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    if member_id in await _member_ids(request):
        raise PageError(
            409, f"编号 {member_id} 已被他人在此期间登记，未发布。请重新打开“登记新成员”。"
        )
    await _publish(request, viewer, [(registration, event_id)])
    return _done(request, f"已登记 {registration.name}，编号 {member_id}。名册和排名将在几秒内更新。",
                 f"/office/roster/{member_id}")  # fmt: skip


def _done(request: Request, sentence: str, back: str) -> Response:
    return page(request, "message.html", title="已提交", sentence=sentence, back=back)


@router.get("/office/roster/{member_id}")
async def member_profile(
    request: Request, member_id: str, viewer: Admin, api: ViewerApi
) -> Response:
    """A member's profile, with the forms to edit, move, give roles and deactivate."""
    member = await api.get(RosterMember, f"/v1/members/{member_id}")
    form = MemberForm(member_id, _member_values(member), {}, member.version)
    return await _member_page(request, viewer, api, form, member)


def _unchanged_since(member: RosterMember, version: str) -> None:
    if member.version != version:
        raise PageError(409, f"{member.name}的登记信息在您打开表单之后已被修改，本次修改未发布。"
                             "请刷新页面，在最新信息上重新修改。")  # fmt: skip


@router.post("/office/roster/{member_id}")
async def edit_member(
    request: Request, member_id: str, viewer: Admin, api: ViewerApi,
    sent: Annotated[MemberFields, Form()],
) -> Response:  # fmt: skip
    """Edit, move (another 科室) or give and take roles: member.registered again (a departed
    member registered again is active again)."""
    nonce = forms.checked_form(request, sent.csrf, sent.token, viewer, "roster")
    member = await api.get(RosterMember, f"/v1/members/{member_id}")
    values, version = sent.values(), sent.version
    org = await api.get(Organisation, "/v1/organisation")
    registration, errors = _registration(member_id, values, org)
    if member_id == viewer.subject and "admin" not in values["roles"]:
        errors["roles"] = "不能取消自己的“机关党办”身份，请由另一位管理员操作"
        registration = None
    if registration is None:
        form = MemberForm(member_id, values, errors, version)
        return await _member_page(request, viewer, api, form, member, 422)
    event_id = f"edit-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    _unchanged_since(member, version)
    await _publish(request, viewer, [(registration, event_id)])
    return _done(request, f"{registration.name}的登记信息已更新。", f"/office/roster/{member_id}")


@router.post("/office/roster/{member_id}/leave")
async def deactivate_member(
    request: Request, member_id: str, viewer: Admin, api: ViewerApi,
    version: Annotated[str, Form()], token: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """停用 (调离、退休): member.left."""
    nonce = forms.checked_form(request, csrf, token, viewer, "roster")
    member = await api.get(RosterMember, f"/v1/members/{member_id}")
    if member_id == viewer.subject:
        raise PageError(409, "不能停用自己的账号，请由另一位管理员操作。")
    event_id = f"leave-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    if not member.active:
        raise PageError(409, f"{member.name}已是停用状态，未重复发布。")
    _unchanged_since(member, version)
    await _publish(request, viewer, [(ev.MemberLeft(member_id=member_id), event_id)])
    return _done(request, f"{member.name}已停用，不再计入排名。", f"/office/roster/{member_id}")


@router.get("/office/organisation")
async def organisation(request: Request, viewer: Admin, api: ViewerApi) -> Response:
    return await _organisation_page(request, viewer, api, {}, {})


async def _organisation_page(
    request: Request,
    viewer: Principal,
    api: Api,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    org = await api.get(Organisation, "/v1/organisation")
    leaders = await api.get(Roster, "/v1/members", {"role": "leader", "limit": 500})
    return page(
        request, "office_organisation.html", status, title="组织机构", org=org,
        leaders=leaders.items, values=values, errors=errors, names=await api.directory(),
        branch_token=form_token(request, viewer, "organisation"), department_token=form_token(request, viewer, "organisation"),
        next_branch=next_id("b", (b.branch_id for b in org.branches), 2),
        next_department=next_id("d", (d.department_id for d in org.departments), 2),
    )  # fmt: skip


@router.post("/office/organisation/branches")
async def register_branch(
    request: Request, viewer: Admin, api: ViewerApi, branch_id: Annotated[str, Form()],
    token: Annotated[str, Form()], name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """登记支部: branch.registered."""
    nonce = forms.checked_form(request, csrf, token, viewer, "organisation")
    org = await api.get(Organisation, "/v1/organisation")
    errors: dict[str, str] = {}
    try:
        branch = ev.BranchRegistered(branch_id=branch_id, name=name.strip())
    except ValidationError as error:
        errors = {f"branch_{k}": v for k, v in forms.reasons(error, {"name": ""}).items()}
    if name.strip() in {b.name for b in org.branches}:
        errors["branch_name"] = "已有同名的支部"
    if errors:
        return await _organisation_page(request, viewer, api, {"branch_name": name}, errors, 422)
    event_id = f"branch-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    if branch_id in {b.branch_id for b in org.branches}:
        raise PageError(
            409, f"编号 {branch_id} 已被他人在此期间登记，未发布。请刷新页面后重新填写。"
        )
    await _publish(request, viewer, [(branch, event_id)])
    return _done(request, f"已登记{branch.name}（编号 {branch_id}）。", "/office/organisation")


@router.post("/office/organisation/departments")
async def register_department(
    request: Request, viewer: Admin, api: ViewerApi, department_id: Annotated[str, Form()],
    token: Annotated[str, Form()], name: Annotated[str, Form()] = "",
    branch_id: Annotated[str, Form()] = "", leader_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """登记科室: department.registered (its branch, and the 党组成员 whose line covers it)."""
    nonce = forms.checked_form(request, csrf, token, viewer, "organisation")
    org = await api.get(Organisation, "/v1/organisation")
    leaders = await api.get(Roster, "/v1/members", {"role": "leader", "limit": 500})
    errors: dict[str, str] = {}
    try:
        department = ev.DepartmentRegistered(department_id=department_id, name=name.strip(),
                                             branch_id=branch_id, leader_id=leader_id)  # fmt: skip
    except ValidationError as error:
        fields = {"name": "", "branch_id": "", "leader_id": ""}
        errors = {f"department_{k}": v for k, v in forms.reasons(error, fields).items()}
    if branch_id and branch_id not in {b.branch_id for b in org.branches}:
        errors["department_branch_id"] = "没有这个支部，请从列表中选择"
    if leader_id and leader_id not in {m.member_id for m in leaders.items}:
        errors["department_leader_id"] = "请从党组成员中选择"
    if name.strip() in {d.name for d in org.departments}:
        errors["department_name"] = "已有同名的科室"
    if errors:
        values = {"department_name": name, "department_branch_id": branch_id,
                  "department_leader_id": leader_id}  # fmt: skip
        return await _organisation_page(request, viewer, api, values, errors, 422)
    event_id = f"department-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    if department_id in {d.department_id for d in org.departments}:
        raise PageError(
            409, f"编号 {department_id} 已被他人在此期间登记，未发布。请刷新页面后重新填写。"
        )
    await _publish(request, viewer, [(department, event_id)])
    return _done(
        request, f"已登记{department.name}（编号 {department_id}）。", "/office/organisation"
    )


# --- 财政月讲堂 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A 期 of the 财政月讲堂 (its month: 一月一讲) and its 微课堂, earliest first."""

    month: str
    lectures: list[Any]


def issues_of(lectures: Lectures) -> list[Issue]:
    by_month: dict[str, list[Any]] = {}
    for item in lectures.items:
        if item.date is not None:
            by_month.setdefault(f"{item.date:%Y-%m}", []).append(item)
    return [Issue(month, sorted(items, key=lambda i: (i.date, i.lecture_id)))
            for month, items in sorted(by_month.items(), reverse=True)]  # fmt: skip


async def _speakers(api: Api, year: int) -> tuple[list[Any], list[Any]]:
    """(proposed: who has not spoken this year and is not yet scheduled, longest waiting first;
    the other active party members by 科室 and name)."""
    rotation = await api.get(SpeakerRotation, "/v1/lectures/rotation", {"year": year})
    scheduled = {u.speaker_id for u in rotation.upcoming}
    proposed = [t for t in rotation.not_yet if t.member_id not in scheduled]
    others = sorted((t for t in rotation.spoken), key=lambda t: (t.department_id, t.name))
    others += [t for t in rotation.not_yet if t.member_id in scheduled]
    return proposed, others


async def _lectures_page(
    request: Request, viewer: Principal, api: Api, year: int, values: dict[str, Any], errors: dict[str, str],
    status: int = 200,
) -> Response:  # fmt: skip
    lectures = await api.get(Lectures, "/v1/lectures", {"year": year})
    proposed, others = await _speakers(api, today().year)
    return page(
        request, "office_lectures.html", status, title=labels.LECTURE_HALL, year=year,
        issues=issues_of(lectures), proposed=proposed, others=others, values=values,
        errors=errors, token=form_token(request, viewer, "lectures"), slots=range(MICRO_LECTURES_PER_FORM),
        today=today(), names=await api.directory(),
    )  # fmt: skip


@router.get("/office/lectures")
async def lectures_page(
    request: Request, viewer: Admin, api: ViewerApi, year: int | None = None, on: str = ""
) -> Response:
    """The 期 of a year with their 微课堂, and the form to schedule a 期 (or add 微课堂 to one:
    `on` its date)."""
    day = _date_or_none(on)
    values = {"date": day.isoformat() if isinstance(day, date) else ""}
    return await _lectures_page(request, viewer, api, year or today().year, values, {})


@router.post("/office/lectures")
async def schedule_lectures(request: Request, viewer: Admin, api: ViewerApi) -> Response:
    """Schedule a 期: one lecture.scheduled per 微课堂 filled in (same date and theme)."""
    form = await request.form()
    typed = {str(k): str(v).strip() for k, v in form.items()}
    nonce = forms.checked_form(
        request, typed.get("csrf", ""), typed.get("token", ""), viewer, "lectures"
    )
    day = _date_or_none(typed.get("date", ""))
    errors: dict[str, str] = {}
    if day is None:
        errors["date"] = "必须填写"
    elif isinstance(day, str):
        errors["date"] = "应为日期，如 2026-09-15"
    elif day < today():
        errors["date"] = "讲堂日期不能早于今天（以往的签到请用 Excel 导入）"
    # the first 微课堂 is required; another counts when its title is filled in (its speaker
    # is proposed by the rotation in any case)
    filled = [0, *(i for i in range(1, MICRO_LECTURES_PER_FORM) if typed.get(f"title_{i}"))]
    rotation = await api.get(SpeakerRotation, "/v1/lectures/rotation", {"year": today().year})
    speakers = {t.member_id for t in (*rotation.spoken, *rotation.not_yet)}
    lectures = await api.get(Lectures, "/v1/lectures",
                             {"year": day.year if isinstance(day, date) else today().year})  # fmt: skip
    taken = [item.lecture_id for item in lectures.items]
    scheduled: list[tuple[ev.EventData, str]] = []
    for i in filled:
        lecture_id = next_id(f"L{day:%Y%m}-", taken, 1) if isinstance(day, date) else f"L-{i}"
        taken.append(lecture_id)
        try:
            data = ev.LectureScheduled(
                lecture_id=lecture_id, date=day if isinstance(day, date) else None,
                module=typed.get(f"module_{i}", ""), theme=typed.get("theme", ""),
                title=typed.get(f"title_{i}", ""), speaker_id=typed.get(f"speaker_id_{i}", ""),
            )  # fmt: skip
            scheduled.append((data, f"schedule-{nonce}-{i}"))
        except ValidationError as error:
            for field, reason in forms.reasons(error, LECTURE_FIELDS).items():
                if field != "date":
                    errors.setdefault(field if field == "theme" else f"{field}_{i}", reason)
        speaker = typed.get(f"speaker_id_{i}", "")
        if speaker and speaker not in speakers:
            errors[f"speaker_id_{i}"] = "请从在册党员中选择主讲人"
    if errors:
        year = day.year if isinstance(day, date) else today().year
        return await _lectures_page(request, viewer, api, year, typed, errors, 422)
    await _refuse_if_submitted(request, [event_id for _, event_id in scheduled])
    new_ids = {data.subject for data, _ in scheduled}
    if any(item.lecture_id in new_ids for item in lectures.items):
        raise PageError(409, "讲堂编号已被他人在此期间使用，未发布。请刷新页面后重新填写。")
    await _publish(request, viewer, scheduled)
    assert isinstance(day, date)
    return _done(request, f"已安排{labels.day(day)}的{labels.LECTURE_HALL}：{len(scheduled)} 个"
                          f"{labels.MICRO_LECTURE}。", f"/office/lectures?year={day.year}")  # fmt: skip


def sign_in_code(secret: str, lecture_id: str, day: date) -> str:
    """The code of a lecture's QR sign-in: bound to the lecture and its day."""
    message = f"sign-in:{lecture_id}:{day.isoformat()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:20]


def _secret(request: Request) -> str:
    settings: GatewaySettings = request.app.state.settings
    return settings.jwt_secret.get_secret_value()


def sign_in_url(request: Request, lecture: LectureDetail) -> str:
    assert lecture.date is not None
    code = sign_in_code(_secret(request), lecture.lecture_id, lecture.date)
    return f"{request.base_url}lectures/{lecture.lecture_id}/sign-in?code={code}"


@router.get("/office/lectures/{lecture_id}")
async def lecture_page(
    request: Request, lecture_id: str, viewer: Admin, api: ViewerApi
) -> Response:
    """A 微课堂: its schedule, 已讲授, the QR code to sign in (on its day), who signed in."""
    lecture = await api.get(LectureDetail, f"/v1/lectures/{lecture_id}")
    on_the_day = lecture.date == today()
    return page(
        request, "office_lecture.html", title=lecture.title or lecture_id, lecture=lecture,
        on_the_day=on_the_day, url=sign_in_url(request, lecture) if on_the_day else "",
        token=form_token(request, viewer, "lecture"), today=today(), names=await api.directory(),
    )  # fmt: skip


@router.get("/office/lectures/{lecture_id}/qr.png")
async def lecture_qr(request: Request, lecture_id: str, viewer: Admin, api: ViewerApi) -> Response:
    """The sign-in QR code (PNG, rendered here by segno), on the lecture's day only."""
    lecture = await api.get(LectureDetail, f"/v1/lectures/{lecture_id}")
    if lecture.date != today():
        raise PageError(404, "签到二维码只在讲堂当天显示。")
    image = io.BytesIO()
    segno.make(sign_in_url(request, lecture), error="m").save(image, kind="png", scale=8, border=4)
    return Response(image.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


@router.post("/office/lectures/{lecture_id}/delivered")
async def mark_lecture_delivered(
    request: Request, lecture_id: str, viewer: Admin, api: ViewerApi,
    token: Annotated[str, Form()], csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """已讲授: lecture.delivered by its scheduled speaker, now."""
    nonce = forms.checked_form(request, csrf, token, viewer, "lecture")
    lecture = await api.get(LectureDetail, f"/v1/lectures/{lecture_id}")
    event_id = f"delivered-{nonce}"
    await _refuse_if_submitted(request, [event_id])
    if lecture.delivered_at is not None:
        raise PageError(409, f"这个{labels.MICRO_LECTURE}已于{labels.day(lecture.delivered_at)}"
                             "标记为已讲授，未重复发布。")  # fmt: skip
    if lecture.date is None or lecture.speaker_id is None:
        raise PageError(409, "这个讲堂没有排期，不能标记为已讲授。")
    if lecture.date > today():
        raise PageError(
            409, f"讲堂安排在{labels.day(lecture.date)}，还未到日期，不能标记为已讲授。"
        )
    delivered = ev.LectureDelivered(lecture_id=lecture_id, speaker_id=lecture.speaker_id)
    await _publish(request, viewer, [(delivered, event_id)])
    return RedirectResponse(f"/office/lectures/{lecture_id}?delivered=1", status_code=303)


@dataclass(frozen=True)
class SignIn:
    """A member's sign-in to a lecture by its QR code, as checked."""

    lecture_id: str
    title: str
    day: date
    event_id: str
    data: ev.LectureAttended


async def _checked_sign_in(request: Request, lecture_id: str, code: str, viewer: Principal,
                           names: Directory) -> SignIn:  # fmt: skip
    lecture = names.lectures.get(lecture_id)
    if lecture is None or lecture.date is None:
        raise PageError(404, "没有找到这个讲堂，请确认扫描的是本次讲堂的签到二维码。")
    expected = sign_in_code(_secret(request), lecture_id, lecture.date)
    if not hmac.compare_digest(code, expected):
        raise PageError(403, "签到码无效，请重新扫描讲堂现场的二维码。")
    if lecture.date != today():
        when = "已过期" if lecture.date < today() else "尚未生效"
        raise PageError(403, f"签到码{when}：本次讲堂只能在{labels.day(lecture.date)}当天签到。")
    data = ev.LectureAttended(lecture_id=lecture_id, member_id=viewer.subject)
    event_id = sheets.KINDS["attendance"].event_id(data)
    async with request.app.state.pool.acquire() as connection:
        active = await connection.fetchval(
            "SELECT true FROM active_members WHERE member_id = $1", viewer.subject
        )
        signed = await connection.fetchval(
            """SELECT coalesce((SELECT attended_at FROM attendances
                                WHERE lecture_id = $1 AND member_id = $2),
                               (SELECT accepted_at FROM gateway.accepted_events
                                WHERE source = $3 AND id = $4))""",
            lecture_id, viewer.subject, actions.source_of(viewer.agency), event_id,
        )  # fmt: skip
    if not active:
        raise PageError(403, "您不是在册党员，不能签到。")
    if signed is not None:
        at = signed.astimezone(BUSINESS_TZ)
        raise PageError(409, f"您已于 {at:%H:%M} 签到过本次讲堂，无需重复签到。")
    return SignIn(lecture_id, names.lecture_title(lecture_id), lecture.date, event_id, data)


@router.get("/lectures/{lecture_id}/sign-in")
async def sign_in_form(
    request: Request, lecture_id: str, viewer: AnyViewer, api: ViewerApi, code: str = ""
) -> Response:
    """What the QR code opens on a member's phone: the lecture and a 签到 button."""
    checked = await _checked_sign_in(request, lecture_id, code, viewer, await api.directory())
    return page(request, "lecture_sign_in.html", title="讲堂签到", sign_in=checked, code=code)


@router.post("/lectures/{lecture_id}/sign-in")
async def sign_in(
    request: Request, lecture_id: str, viewer: AnyViewer, api: ViewerApi,
    code: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """签到: lecture.attended of the signed-in member (one per member and lecture)."""
    forms.form_checked(request, csrf)
    checked = await _checked_sign_in(request, lecture_id, code, viewer, await api.directory())
    await publish_actions(
        request, [actions.dashboard_event(checked.data, checked.event_id, viewer)]
    )
    return page(request, "message.html", title="签到成功", back="/me",
                sentence=f"已签到：{labels.day(checked.day)} {checked.title}。")  # fmt: skip


# --- 十不准 ---------------------------------------------------------------------------------


async def _violations_page(
    request: Request,
    viewer: Principal,
    api: Api,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    members = await api.get(Roster, "/v1/members", {"limit": 500})
    history = await api.get(Actions, "/v1/actions",
                            {"type": "mingdeng.violation.logged.v1", "limit": 50})  # fmt: skip
    now = datetime.now(BUSINESS_TZ)
    return page(
        request, "office_violations.html", status, title="“十不准”登记", members=members.items,
        rules=TEN_RULES, rule_text=rule_text, values=values, errors=errors, history=history,
        token=form_token(request, viewer, "violation"), now=f"{now:%Y-%m-%dT%H:%M}", names=await api.directory(),
    )  # fmt: skip


@router.get("/office/violations")
async def violations(request: Request, viewer: Admin, api: ViewerApi) -> Response:
    return await _violations_page(request, viewer, api, {}, {})


@router.post("/office/violations")
async def log_violation(
    request: Request, viewer: Admin, api: ViewerApi, token: Annotated[str, Form()],
    member_id: Annotated[str, Form()] = "", rule: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "", at: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """登记违反“十不准”: violation.logged, the office as inspector; the notifier sends the
    reminder SMS to the member and their branch's secretary."""
    nonce = forms.checked_form(request, csrf, token, viewer, "violation")
    values = {"member_id": member_id, "rule": rule, "description": description, "at": at}
    errors: dict[str, str] = {}
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(at).replace(tzinfo=BUSINESS_TZ)
    except ValueError:
        errors["at"] = "必须填写发生时间，如 2026-09-15 09:30"
    if moment is not None and moment > datetime.now(UTC) + timedelta(minutes=1):
        errors["at"] = "发生时间不能晚于当前时间"
    violation_id = f"V{moment or datetime.now(BUSINESS_TZ):%Y%m%d}-{nonce[:8]}"
    data = None
    try:
        data = ev.ViolationLogged(violation_id=violation_id, member_id=member_id,
                                  rule=rule if rule.isdigit() else 0, description=description,
                                  inspector_id=viewer.subject)  # fmt: skip
    except ValidationError as error:
        errors = {**forms.reasons(error, VIOLATION_FIELDS), **errors}
    if member_id:
        async with request.app.state.pool.acquire() as connection:
            active = await connection.fetchval(
                "SELECT true FROM active_members WHERE member_id = $1", member_id
            )
        if not active:
            errors["member_id"] = "没有这位在册党员，请从列表中选择"
    if errors or data is None or moment is None:
        return await _violations_page(request, viewer, api, values, errors, 422)
    await _publish(request, viewer, [(data, f"violation-{nonce}")], moment)
    return _done(request, f"已登记：{names_of(await api.directory(), member_id)}，{rule_text(data.rule)}。"
                          "提醒短信将发给本人和所在支部书记。", "/office/violations")  # fmt: skip


def names_of(names: Directory, member_id: str) -> str:
    return f"{names.member(member_id)}（{names.department_of(member_id)}）"


# --- the history of every action ---------------------------------------------------------------


@router.get("/office/actions")
async def history(
    request: Request, viewer: Admin, api: ViewerApi, kind: str = "roster", page_number: int = 1
) -> Response:
    """操作记录: what the office did on the pages, one kind of action a page, newest first."""
    if kind not in HISTORIES:
        raise PageError(404, "没有这类操作记录。")
    title, types = HISTORIES[kind]
    page_number = max(1, page_number)
    found = await api.get(Actions, "/v1/actions", {"type": list(types), "limit": PER_PAGE,
                          "offset": (page_number - 1) * PER_PAGE})  # fmt: skip
    return page(
        request, "office_actions.html", title=f"操作记录 · {title}", kind=kind, kinds=HISTORIES,
        history=found, page_number=page_number, pages=max(1, -(-found.total // PER_PAGE)),
        names=await api.directory(), rule_text=rule_text, action_name=action_name,
    )  # fmt: skip
