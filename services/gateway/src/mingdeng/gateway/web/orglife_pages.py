"""Organisational life and frontline secondments on the pages (issue 24).

- 本支部 · 三会一课 (`/branch/meetings`, the secretary): which kind is 未按期, the meetings of
  the year, members flagged after three absences in a row, and the form to record a meeting
  (会议记录) with each member's attendance and leave (the secretary grants it or not), published
  as meeting.held.v1;
- 三会一课 (`/office/meetings`, the office): every branch's status by kind, every meeting, the
  list as Excel;
- 一线锻炼 (`/office/secondments`, the office): the members sent to frontline posts, and the
  form to record one (secondment.assigned.v1).
A member reads their own attendance on /me (pages.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from mingdeng.contracts import events as ev
from mingdeng.contracts.derived import Task
from mingdeng.contracts.events import MEETING_KINDS
from mingdeng.contracts.periods import Quarter, month_of
from mingdeng.gateway.entrypoints.answers import Tasks
from mingdeng.gateway.entrypoints.orglife import (
    MeetingDetail,
    Meetings,
    OrganisationLife,
    Secondments,
)
from mingdeng.gateway.web import actions, labels, sheets
from mingdeng.gateway.web.directory import Directory
from mingdeng.gateway.web.forms import checked_form
from mingdeng.gateway.web.member_pages import (
    Tokens,
    parse_day,
    published,
    refuse,
    talk_moment,
    today,
    validated,
)
from mingdeng.gateway.web.pages import Admin, Secretary, page, tasks_in_order
from mingdeng.gateway.web.reads import Api, ViewerApi

router = APIRouter(include_in_schema=False)

MEETINGS_BACK = timedelta(days=366)  # a meeting may be recorded up to a year after it
CAMPAIGNS = ("三大攻坚战·防范化解重大风险", "三大攻坚战·精准脱贫", "三大攻坚战·污染防治")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _years() -> list[int]:
    return [today().year - n for n in range(3)]


def own_branch(names: Directory, viewer_id: str) -> str | None:
    person = names.members.get(viewer_id)
    department = names.departments.get(person.department_id) if person else None
    return department.branch_id if department else None


def members_of(names: Directory, branch_id: str | None) -> list[str]:
    """The members of a branch, by department and name: who is expected at its meetings."""
    found = [
        member_id for member_id, person in names.members.items()
        if (d := names.departments.get(person.department_id)) and d.branch_id == branch_id
    ]  # fmt: skip
    return sorted(found, key=lambda m: (names.department_of(m), names.member(m)))


async def _all_meetings(api: Api, params: dict[str, str | int]) -> Meetings:
    first = await api.get(Meetings, "/v1/meetings", {**params, "limit": 500})
    items = list(first.items)
    while len(items) < first.total:
        more = await api.get(
            Meetings, "/v1/meetings", {**params, "limit": 500, "offset": len(items)}
        )
        if not more.items:
            break
        items.extend(more.items)
    return Meetings(total=first.total, items=items)


# --- the secretary ---------------------------------------------------------------------------


@router.get("/branch/meetings")
async def branch_meetings(
    request: Request, viewer: Secretary, api: ViewerApi, forms: Tokens, year: int | None = None,
    recorded: str = "",
) -> Response:  # fmt: skip
    """The branch's 三会一课 and 主题党日: status by kind, meetings of the year, absences flagged,
    and the form to record a meeting."""
    year = year or today().year
    names = await api.directory()
    status = await api.get(OrganisationLife, "/v1/organisation-life", {"year": year})
    meetings = await _all_meetings(api, {"year": year})
    flagged = await api.get(Tasks, "/v1/tasks", {"assignee_id": viewer.subject, "limit": 500})
    absences = tasks_in_order([t for t in flagged.items if t.kind == "absences"])
    return page(
        request, "branch_meetings.html", title="三会一课", year=year, years=_years(),
        branch=status.branches[0] if status.branches else None, meetings=meetings,
        absences=[r for r in absences if r.task.status == "open"], names=names,
        members=members_of(names, own_branch(names, viewer.subject)), presence=labels.PRESENCE,
        form_token=forms.issue(viewer, "meeting"), today=today(), recorded=recorded,
        kinds=MEETING_KINDS,
    )  # fmt: skip


@router.get("/branch/meetings/{meeting_id}")
async def branch_meeting(
    request: Request, meeting_id: str, viewer: Secretary, api: ViewerApi
) -> Response:
    """One meeting's record (会议记录), as the branch's secretary reads it."""
    meeting = await api.get(MeetingDetail, f"/v1/meetings/{meeting_id}")
    return page(request, "meeting.html", title=labels.meeting_kind(meeting.kind),
                meeting=meeting, names=await api.directory(), presence=labels.PRESENCE)  # fmt: skip


@router.post("/branch/meetings")
async def record_meeting(
    request: Request,
    viewer: Secretary,
    api: ViewerApi,
    kind: Annotated[str, Form()] = "",
    held_on: Annotated[str, Form()] = "",
    topic: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A meeting held, with each member's attendance (`presence-<member>`) and the reason of a
    leave (`reason-<member>`): published as meeting.held.v1 from /dashboard."""
    nonce = checked_form(request, csrf, form_token, viewer, "meeting")
    names = await api.directory()
    branch_id = own_branch(names, viewer.subject)
    if branch_id is None:
        raise refuse("您的账号没有所属支部，不能登记会议。", 403)
    day = parse_day(held_on, "会议日期")
    if day > today():
        raise refuse("会议日期不能晚于今天。")
    if day < today() - MEETINGS_BACK:
        raise refuse("只能补记一年以内的会议。")
    form = await request.form()
    attendees, leaves, absentees = [], [], []
    for member_id in members_of(names, branch_id):
        chosen = str(form.get(f"presence-{member_id}", "attended"))
        reason = str(form.get(f"reason-{member_id}", "")).strip()
        if chosen == "attended":
            attendees.append(member_id)
        elif chosen == "absent":
            absentees.append(member_id)
        elif chosen in ("leave_granted", "leave_refused"):
            if not reason:
                raise refuse(f"请填写{names.member(member_id)}的请假事由。")
            leaves.append({"member_id": member_id, "reason": reason,
                           "granted": chosen == "leave_granted"})  # fmt: skip
        else:
            raise refuse(f"{names.member(member_id)}的出席情况无效。")
    meeting = validated(
        ev.MeetingHeld, {"kind": "会议类型", "topic": "会议主题", "minutes": "会议纪要",
                         "leaves": "请假事由"},
        meeting_id=f"meeting-{nonce}", branch_id=branch_id, kind=kind, held_on=day,
        topic=topic.strip(), attendees=attendees, leaves=leaves, absentees=absentees,
        minutes=minutes.strip() or None, recorded_by=viewer.subject,
    )  # fmt: skip
    now = datetime.now(UTC)
    event = actions.dashboard_event(meeting, meeting.meeting_id, viewer, talk_moment(day, now))
    await published(request, [event], "这份会议记录已经提交过，没有重复登记。")
    return RedirectResponse(
        f"/branch/meetings?year={day.year}&recorded={meeting.meeting_id}#meetings", 303
    )


# --- the office ------------------------------------------------------------------------------


@router.get("/office/meetings")
async def office_meetings(
    request: Request, viewer: Admin, api: ViewerApi, year: int | None = None,
    branch_id: str = "", kind: str = "",
) -> Response:  # fmt: skip
    """Every branch's 三会一课 and 主题党日 by kind (未按期 first), and the meetings held."""
    year = year or today().year
    status = await api.get(OrganisationLife, "/v1/organisation-life", {"year": year})
    chosen: dict[str, str | int] = {"year": year}
    if branch_id:
        chosen["branch_id"] = branch_id
    if kind in MEETING_KINDS:
        chosen["kind"] = kind
    meetings = await _all_meetings(api, chosen)
    branches = sorted(status.branches, key=lambda b: (not b.overdue, b.branch_id))
    return page(
        request, "office_meetings.html", title="三会一课", year=year, years=_years(),
        branches=branches, overdue=sum(1 for b in branches if b.overdue), meetings=meetings,
        names=await api.directory(), kinds=MEETING_KINDS, branch_id=branch_id, kind=kind,
    )  # fmt: skip


@router.get("/office/meetings.xlsx")
async def office_meetings_xlsx(viewer: Admin, api: ViewerApi, year: int | None = None) -> Response:
    """The year's meetings of every branch as an Excel sheet (会议台账)."""
    year = year or today().year
    meetings = await _all_meetings(api, {"year": year})
    names = await api.directory()
    rows = [
        [m.held_on, names.branch(m.branch_id), labels.meeting_kind(m.kind), m.topic, m.expected,
         m.attended, m.on_leave, m.absent, names.member(m.recorded_by), m.minutes or ""]
        for m in meetings.items
    ]  # fmt: skip
    header = ("日期", "支部", "会议类型", "主题", "应到", "实到", "请假", "缺席", "记录人", "纪要")
    content = sheets.xlsx(f"{year}年三会一课台账", header, rows)
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="meetings-{year}.xlsx"'})  # fmt: skip


@router.get("/office/secondments")
async def office_secondments(
    request: Request, viewer: Admin, api: ViewerApi, forms: Tokens, year: int | None = None,
    recorded: str = "",
) -> Response:  # fmt: skip
    """Members sent to frontline posts (一线锻炼) in a year, and the form to record one."""
    year = year or today().year
    found = await api.get(Secondments, "/v1/secondments", {"year": year, "limit": 500})
    names = await api.directory()
    return page(
        request, "office_secondments.html", title="一线锻炼", year=year, years=_years(),
        secondments=found, names=names, recorded=recorded, campaigns=CAMPAIGNS,
        members=sorted(names.members, key=lambda m: (names.department_of(m), names.member(m))),
        form_token=forms.issue(viewer, "secondment"), today=today(),
    )  # fmt: skip


@router.get("/office/secondments.xlsx")
async def office_secondments_xlsx(
    viewer: Admin, api: ViewerApi, year: int | None = None
) -> Response:
    """The year's secondments (一线锻炼) as an Excel sheet."""
    year = year or today().year
    found = await api.get(Secondments, "/v1/secondments", {"year": year, "limit": 500})
    names = await api.directory()
    rows = [
        [names.member(s.member_id), names.department_of(s.member_id), s.post, s.campaign,
         s.from_on, s.until_on]
        for s in found.items
    ]  # fmt: skip
    header = ("党员", "科室", "锻炼岗位", "攻坚任务", "开始日期", "结束日期")
    content = sheets.xlsx(f"{year}年一线锻炼名单", header, rows)
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="secondments-{year}.xlsx"'})  # fmt: skip


@router.post("/office/secondments")
async def record_secondment(
    request: Request,
    viewer: Admin,
    api: ViewerApi,
    member_id: Annotated[str, Form()] = "",
    post: Annotated[str, Form()] = "",
    campaign: Annotated[str, Form()] = "",
    from_on: Annotated[str, Form()] = "",
    until_on: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A member sent to a frontline post: secondment.assigned.v1 from /dashboard."""
    nonce = checked_form(request, csrf, form_token, viewer, "secondment")
    names = await api.directory()
    if member_id not in names.members:
        raise refuse("请选择在册党员。")
    secondment = validated(
        ev.SecondmentAssigned, {"post": "锻炼岗位", "campaign": "所属攻坚任务",
                                "until_on": "结束日期"},
        secondment_id=f"secondment-{nonce}", member_id=member_id, post=post.strip(),
        campaign=campaign.strip(), from_on=parse_day(from_on, "开始日期"),
        until_on=parse_day(until_on, "结束日期"),
    )  # fmt: skip
    event = actions.dashboard_event(secondment, secondment.secondment_id, viewer)
    await published(request, [event], "这条一线锻炼记录已经提交过，没有重复登记。")
    return RedirectResponse(
        f"/office/secondments?year={secondment.from_on.year}&recorded={secondment.secondment_id}",
        303,
    )


@dataclass(frozen=True)
class QuarterLife:
    """A quarter's organisational life for the 季讲评: meetings held by kind, and each period
    of the quarter a branch missed (补开 when made up since)."""

    held: dict[str, int]  # by kind, every kind
    missed: list[Task]  # the notifier's meeting tasks of the quarter's periods


async def quarter_life(api: Api, quarter: Quarter) -> QuarterLife:
    meetings = await _all_meetings(api, {"year": quarter.year})
    days = (quarter.first_day, quarter.end.date())
    held = Counter(m.kind for m in meetings.items if days[0] <= m.held_on < days[1])
    tasks = await api.get(Tasks, "/v1/tasks", {"kind": "meeting", "limit": 500})
    periods = {str(quarter), *(month_of(quarter.start + timedelta(days=31 * n)) for n in range(3))}
    missed = [t for t in tasks.items if t.period in periods]
    return QuarterLife(
        held={kind: held.get(kind, 0) for kind in MEETING_KINDS},
        missed=sorted(missed, key=lambda t: (t.branch_id or "", t.period or "", t.cause)),
    )
