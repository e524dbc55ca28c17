"""Work done on the pages by members, secretaries and the office (issue 23): 谈心谈话 recorded
from the open talk task, 申诉 of a violation and its decision, members' reports confirmed by
their branch secretary, and the message centre. Each action is an event from `/dashboard`
with its actor (actions.py); each form carries a token of its own (`forms.py`): the event's id
comes from it, so a form sent twice publishes once, and a form older than `FORM_TTL` is stale.
The state each action starts from (the task, the appeal, the report) is read from the API as
the viewer sees it, and checked again when the form comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from mingdeng.contracts import events as ev
from mingdeng.contracts.conduct import rule_text
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.entrypoints.answers import HouseholdsAnswer, TalkObligations, VanguardRanking
from mingdeng.gateway.entrypoints.work import (
    AppealRow,
    Appeals,
    Inbox,
    ReportRow,
    Reports,
    TalksHeld,
    ViolationRow,
    Violations,
)
from mingdeng.gateway.web import actions, labels
from mingdeng.gateway.web.forms import FormTokens, checked_form, chinese_reasons, tokens
from mingdeng.gateway.web.pages import (
    Admin,
    AnyViewer,
    Reviewer,
    Secretary,
    page,
    publish_actions,
)
from mingdeng.gateway.web.reads import Api, PageError, ViewerApi

router = APIRouter(include_in_schema=False)

APPEAL_WITHIN = timedelta(days=30)  # a violation may be appealed this long after it
REPORT_WITHIN = timedelta(days=30)  # an activity may be reported, and confirmed, this long after
TALKS_BACK = timedelta(days=366)  # a talk may be recorded up to a year after it was held
FIVE_MUST_TALKS = (  # 五必谈: when a talk is due
    "违反“十不准”受到提醒",
    "思想出现波动",
    "家庭发生重大变故",
    "岗位发生调整",
    "受到批评或处分",
)
TALK_CATEGORIES = {"member": "党员", "youth": "青年干部", "leadership": "班子成员"}
REPORT_KINDS = {"household": "结对户走访", "volunteer": "志愿服务", "community": "进社区报到"}
APPEAL_STATES = {"pending": "审核中", "upheld": "申诉成立（已撤销）", "rejected": "未予支持"}
REPORT_STATES = {"pending": "待确认", "confirmed": "已确认（已计分）", "rejected": "已退回"}


Tokens = Annotated[FormTokens, Depends(tokens)]


def today() -> date:
    return datetime.now(BUSINESS_TZ).date()


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PageError(422, f"{field}不是有效的日期，请按“年-月-日”选择日期。") from None


def refuse(sentence: str, status: int = 422) -> PageError:
    return PageError(status, sentence + "本次没有提交。")


def validated(payload: type[ev.EventData], fields: dict[str, str], **values: Any) -> Any:
    """The payload as the API validates it; its reasons in Chinese (a PageError) when it is not.
    `fields` names the payload's fields as the form does."""
    try:
        return payload.model_validate(values)
    except ValidationError as error:
        raise refuse("；".join(chinese_reasons(error, fields)) + "。") from None


async def published(request: Request, events: list[Any], again: str) -> None:
    """Publish `events` (all or none); a form sent again is told so, and nothing is published
    twice: its events' ids come from the form's token."""
    accepted = await publish_actions(request, events)
    if events[0].id in accepted.duplicates:
        raise PageError(409, again)


# --- 谈心谈话 (secretary) --------------------------------------------------------------------


def branch_members(api_names: Any, viewer: Principal) -> list[str]:
    """The members of the secretary's branch, by name, themself left out."""
    own = api_names.members.get(viewer.subject)
    branch = api_names.departments[own.department_id].branch_id if own else None
    found = [
        member_id for member_id, person in api_names.members.items()
        if member_id != viewer.subject and (d := api_names.departments.get(person.department_id))
        and d.branch_id == branch
    ]  # fmt: skip
    return sorted(found, key=lambda m: (api_names.department_of(m), api_names.member(m)))


@router.get("/branch/talks")
async def talks_page(
    request: Request, viewer: Secretary, api: ViewerApi, forms: Tokens, year: int | None = None,
    task_id: str = "", recorded: str = "",
) -> Response:  # fmt: skip
    """The branch's talks of a year with its figures by category; the form to record one,
    filled in from an open talk task when `task_id` names one."""
    year = year or today().year
    held = await api.get(TalksHeld, "/v1/talks", {"year": year, "limit": 500})
    obligations = await api.get(TalkObligations, "/v1/outreach/talk-obligations")
    task = next((t for t in obligations.items if t.task_id == task_id), None)
    names = await api.directory()
    return page(
        request, "talks.html", title=f"{labels.TALK}记录", year=year, held=held, task=task,
        open_tasks=[t for t in obligations.items if t.status != "done"],
        members=branch_members(names, viewer), names=names, categories=TALK_CATEGORIES,
        reasons=FIVE_MUST_TALKS, form_token=forms.issue(viewer, "talk"), today=today(),
        recorded=recorded, years=[today().year - n for n in range(3)],
    )  # fmt: skip


def talk_moment(day: date, now: datetime) -> datetime:
    """When a talk on `day` happened: now when it is today, else the end of that day (Beijing),
    so a talk on the day of a violation counts as after it."""
    if day == now.astimezone(BUSINESS_TZ).date():
        return now
    return datetime.combine(day, time(23, 59), tzinfo=BUSINESS_TZ)


@router.post("/branch/talks")
async def record_talk(
    request: Request,
    viewer: Secretary,
    api: ViewerApi,
    member_id: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    held_on: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    task_id: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """谈心谈话 held: published as talk.held.v2 (the secretary as host); the notifier marks the
    open talk task with that member done when it reads it."""
    nonce = checked_form(request, csrf, form_token, viewer, "talk")
    names = await api.directory()
    if not member_id:
        raise refuse("请选择谈话对象。")
    if member_id == viewer.subject:
        raise refuse("不能记录与自己的谈心谈话。", 403)
    if member_id not in branch_members(names, viewer):
        raise refuse("只能记录与本支部党员的谈心谈话。", 403)
    day = parse_day(held_on, "谈话日期")
    now = datetime.now(UTC)
    if day > today():
        raise refuse("谈话日期不能晚于今天。")
    if day < today() - TALKS_BACK:
        raise refuse("只能补记一年以内的谈心谈话。")
    if task_id:
        obligations = await api.get(TalkObligations, "/v1/outreach/talk-obligations")
        task = next((t for t in obligations.items if t.task_id == task_id), None)
        if task is None or task.member_id != member_id:
            raise refuse("这项谈话任务不是与所选党员的，请从任务重新打开表单。", 409)
        if task.status == "done":
            raise refuse(f"这项谈话任务已于{labels.day(task.done_at)}完成。", 409)
        if talk_moment(day, now) < task.violation_at:
            raise refuse(f"谈话日期早于违纪日期（{labels.day(task.violation_at)}），"
                         "不能完成这项谈话任务。")  # fmt: skip
    talk = validated(
        ev.TalkHeld, {"category": "谈话类别", "reason": "谈话事由", "note": "谈话要点"},
        talk_id=f"talk-{nonce}", host_id=viewer.subject, member_id=member_id,
        category=category, reason=reason.strip() or None, note=note.strip() or None,
    )  # fmt: skip
    event = actions.dashboard_event(talk, talk.talk_id, viewer, talk_moment(day, now))
    await published(request, [event], "这份谈话记录已经提交过，没有重复记录。")
    return RedirectResponse(f"/branch/talks?year={day.year}&recorded={talk.talk_id}", 303)


# --- 申诉 (member → office) --------------------------------------------------------------------


@dataclass(frozen=True)
class Appealable:
    violation: ViolationRow
    words: str
    open_until: date
    why_not: str | None  # why it cannot be appealed now, or None


def appealable(violation: ViolationRow, now: datetime) -> Appealable:
    until = (violation.time + APPEAL_WITHIN).astimezone(BUSINESS_TZ).date()
    why_not = None
    if violation.retracted_at is not None:
        why_not = "这条记录已撤销，无需申诉"
    elif violation.appeal_status == "pending":
        why_not = "申诉正在审核中"
    elif violation.appeal_status is not None:
        why_not = "已申诉过，处理结果见下方"
    elif now > violation.time + APPEAL_WITHIN:
        why_not = f"已过申诉期限（{labels.day(until)}）"
    words = f"违反“{labels.CONDUCT_CODE}”{rule_text(violation.rule)}。{violation.description}"
    return Appealable(violation, words, until, why_not)


@router.get("/me/appeals")
async def my_appeals(
    request: Request, viewer: AnyViewer, api: ViewerApi, forms: Tokens
) -> Response:
    """The member's violations, each with the 申诉 form while it may be appealed, and their
    appeals with the decisions."""
    found = await api.get(Violations, "/v1/violations", {"member_id": viewer.subject, "limit": 500})
    appeals = await api.get(Appeals, "/v1/appeals", {"member_id": viewer.subject, "limit": 500})
    now = datetime.now(UTC)
    return page(
        request, "my_appeals.html", title="我的申诉",
        violations=[appealable(v, now) for v in found.items], appeals=appeals.items,
        form_token=forms.issue(viewer, "appeal"), states=APPEAL_STATES, names=await api.directory(),
        within=APPEAL_WITHIN.days, rule_text=rule_text,
    )  # fmt: skip


@router.post("/me/appeals")
async def file_appeal(
    request: Request,
    viewer: AnyViewer,
    api: ViewerApi,
    violation_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """申诉: published as appeal.filed (the member as appellant) for the office to decide."""
    nonce = checked_form(request, csrf, form_token, viewer, "appeal")
    found = await api.get(Violations, "/v1/violations", {"member_id": viewer.subject, "limit": 500})
    violation = next((v for v in found.items if v.violation_id == violation_id), None)
    if violation is None:
        raise refuse("没有找到您的这条违纪记录：只能对本人的记录提出申诉。", 404)
    why_not = appealable(violation, datetime.now(UTC)).why_not
    if why_not is not None:
        raise refuse(why_not + "。", 409)
    appeal = validated(
        ev.AppealFiled, {"reason": "申诉理由"}, appeal_id=f"appeal-{nonce}",
        violation_id=violation_id, member_id=viewer.subject, reason=reason,
    )  # fmt: skip
    event = actions.dashboard_event(appeal, appeal.appeal_id, viewer)
    await published(request, [event], "这份申诉已经提交过，没有重复提交。")
    return RedirectResponse("/me/appeals?filed=" + appeal.appeal_id, 303)


@router.get("/office/appeals")
async def office_appeals(
    request: Request, viewer: Admin, api: ViewerApi, forms: Tokens, status: str = ""
) -> Response:
    """申诉处理: pending appeals first, each with its decision form; then the decided ones."""
    found = await api.get(Appeals, "/v1/appeals", {"status": status or None, "limit": 500})
    return page(
        request, "office_appeals.html", title="申诉处理", appeals=found, chosen=status,
        states=APPEAL_STATES, names=await api.directory(), rule_text=rule_text,
        form_token=forms.issue(viewer, "appeal-decision"),
    )  # fmt: skip


async def appeal_of(api: Api, appeal_id: str) -> AppealRow:
    found = await api.get(Appeals, "/v1/appeals", {"appeal_id": appeal_id, "limit": 1})
    appeal = next(iter(found.items), None)
    if appeal is None:
        raise refuse("没有找到这份申诉。", 404)
    return appeal


@router.post("/office/appeals/{appeal_id}/decision")
async def decide_appeal(
    request: Request,
    appeal_id: str,
    viewer: Admin,
    api: ViewerApi,
    outcome: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The office decides an appeal: upheld → appeal.upheld with the violation.retracted it
    causes (one batch); rejected → appeal.rejected. The notifier tells the member by SMS."""
    nonce = checked_form(request, csrf, form_token, viewer, "appeal-decision")
    appeal = await appeal_of(api, appeal_id)
    if appeal.member_id == viewer.subject:
        raise refuse("不能处理本人的申诉，请由机关党办其他同志处理。", 403)
    if appeal.status != "pending":
        raise refuse(f"这份申诉已于{labels.day(appeal.decided_at)}处理"
                     f"（{APPEAL_STATES[appeal.status]}），页面已过期。", 409)  # fmt: skip
    if outcome not in ("upheld", "rejected"):
        raise refuse("请选择“申诉成立”或“不予支持”。")
    decision_type = ev.AppealUpheld if outcome == "upheld" else ev.AppealRejected
    decision = validated(
        decision_type, {"reason": "处理意见"}, appeal_id=appeal_id,
        violation_id=appeal.violation_id, member_id=appeal.member_id, reason=reason,
    )  # fmt: skip
    events = [actions.dashboard_event(decision, f"decision-{nonce}", viewer)]
    if outcome == "upheld":
        retraction = ev.ViolationRetracted(
            violation_id=appeal.violation_id, reason=f"申诉成立：{decision.reason}"[:4000]
        )
        events.append(actions.dashboard_event(retraction, f"decision-{nonce}-retraction", viewer))
    await published(request, events, "这份处理意见已经提交过，没有重复提交。")
    return RedirectResponse(f"/office/appeals?decided={appeal_id}", 303)


# --- members' reports, confirmed by the secretary --------------------------------------------


@router.get("/me/reports")
async def my_reports(
    request: Request, viewer: AnyViewer, api: ViewerApi, forms: Tokens
) -> Response:
    """Report a household visit, volunteering or a community 报到 (phone first); the member's
    reports with what became of each."""
    found = await api.get(Reports, "/v1/reports", {"member_id": viewer.subject, "limit": 500})
    households = await api.find(
        HouseholdsAnswer, f"/v1/outreach/members/{viewer.subject}/households"
    )
    return page(
        request, "my_reports.html", title="我的报告", reports=found.items, kinds=REPORT_KINDS,
        states=REPORT_STATES, households=households.households if households else [],
        names=await api.directory(), form_token=forms.issue(viewer, "report"), today=today(),
        earliest=today() - REPORT_WITHIN, within=REPORT_WITHIN.days,
    )  # fmt: skip


def hours_as_minutes(hours: str) -> int | None:
    if not hours.strip():
        return None
    try:
        value = float(hours.strip())
    except ValueError:
        raise refuse("服务时长请填写小时数，例如 1.5。") from None
    if not 0 < value <= 24:
        raise refuse("服务时长应在 0 到 24 小时之间。")
    return max(1, round(value * 60))


@router.post("/me/reports")
async def submit_report(
    request: Request,
    viewer: AnyViewer,
    api: ViewerApi,
    kind: Annotated[str, Form()] = "",
    happened_on: Annotated[str, Form()] = "",
    household_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    hours: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A member's own report: report.submitted; it counts once their secretary confirms it."""
    nonce = checked_form(request, csrf, form_token, viewer, "report")
    if kind not in REPORT_KINDS:
        raise refuse("请选择报告类型：结对户走访、志愿服务或进社区报到。")
    day = parse_day(happened_on, "日期")
    if day > today():
        raise refuse("日期不能晚于今天。")
    if day < today() - REPORT_WITHIN:
        raise refuse(f"只能报告 {REPORT_WITHIN.days} 天以内的活动。")
    if kind == "household":
        households = await api.find(
            HouseholdsAnswer, f"/v1/outreach/members/{viewer.subject}/households"
        )
        mine = {h.household_id for h in households.households} if households else set()
        if household_id not in mine:
            raise refuse("请选择您结对帮扶的困难户：只能报告走访本人结对户。")
    report = validated(
        ev.ReportSubmitted,
        {"title": "活动名称" if kind == "volunteer" else "报到社区", "minutes": "服务时长",
         "notes": "情况说明", "household_id": "结对户"},
        report_id=f"report-{nonce}", member_id=viewer.subject, kind=kind, happened_on=day,
        household_id=household_id if kind == "household" else None,
        title=title.strip() or None if kind != "household" else None,
        minutes=hours_as_minutes(hours) if kind == "volunteer" else None,
        notes=notes.strip() or None,
    )  # fmt: skip
    event = actions.dashboard_event(report, report.report_id, viewer)
    await published(request, [event], "这份报告已经提交过，没有重复提交。")
    return RedirectResponse("/me/reports?submitted=" + report.report_id, 303)


@router.get("/branch/reports")
async def branch_reports(
    request: Request, viewer: Reviewer, api: ViewerApi, forms: Tokens
) -> Response:
    """报告审核: the pending reports the viewer sees (a secretary their branch's, the office
    every branch's), oldest first, each confirmed or sent back; then the decided ones."""
    found = await api.get(Reports, "/v1/reports", {"limit": 500})
    pending = sorted(
        (r for r in found.items if r.status == "pending"), key=lambda r: r.submitted_at
    )
    return page(
        request, "branch_reports.html", title="党员报告审核", pending=pending,
        decided=[r for r in found.items if r.status != "pending"], kinds=REPORT_KINDS,
        states=REPORT_STATES, names=await api.directory(), viewer_id=viewer.subject,
        form_token=forms.issue(viewer, "report-decision"), within=REPORT_WITHIN.days,
        too_old=today() - REPORT_WITHIN, office=viewer.role == "admin",
    )  # fmt: skip


def counted_event(report: ReportRow) -> ev.EventData:
    """The scored event a confirmed report stands for, the reporter as member. Its id comes
    from the report, so a report is counted once whoever confirms it and however often."""
    counted_as = f"counted-{report.report_id}"
    if report.kind == "volunteer":
        assert report.title is not None and report.minutes is not None
        return ev.VolunteerLogged(activity_id=counted_as, member_id=report.member_id,
                                  minutes=report.minutes, title=report.title)  # fmt: skip
    notes = report.notes
    if report.kind == "community":
        notes = f"报到社区：{report.title}" + (f"；{report.notes}" if report.notes else "")
    return ev.VisitMade(visit_id=counted_as, member_id=report.member_id, kind=report.kind,
                        household_id=report.household_id, notes=notes)  # fmt: skip


@router.post("/branch/reports/{report_id}/decision")
async def decide_report(
    request: Request,
    report_id: str,
    viewer: Reviewer,
    api: ViewerApi,
    outcome: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The secretary, or the office, confirms a report (report.confirmed with the scored event,
    at the day reported) or sends it back with a reason (report.rejected; the member gets an
    SMS)."""
    nonce = checked_form(request, csrf, form_token, viewer, "report-decision")
    found = await api.get(Reports, "/v1/reports", {"report_id": report_id, "limit": 1})
    report = next(iter(found.items), None)
    if report is None:
        raise refuse("没有找到这份报告：只能审核本支部党员的报告。", 404)
    if report.member_id == viewer.subject:
        raise refuse("不能审核本人提交的报告。", 403)
    if report.status != "pending":
        raise refuse(f"这份报告已于{labels.day(report.decided_at)}"
                     f"{'确认' if report.status == 'confirmed' else '退回'}，页面已过期。", 409)  # fmt: skip
    if outcome == "confirmed":
        if report.happened_on < today() - REPORT_WITHIN:
            raise refuse(f"活动日期（{labels.day(report.happened_on)}）已超过 {REPORT_WITHIN.days}"
                         " 天，不能再确认，请退回并说明。", 409)  # fmt: skip
        moment = datetime.combine(report.happened_on, time(12), tzinfo=BUSINESS_TZ)
        quarter = str(Quarter.of(moment))
        ranking = await api.get(VanguardRanking, f"/v1/quarters/{quarter}/vanguard", {"limit": 1})
        if ranking.status == "final":
            raise refuse(f"活动所在的{labels.quarter(quarter)}已定稿，不能再计分，请退回并说明。",
                         409)  # fmt: skip
        counted = counted_event(report)
        confirmed = ev.ReportConfirmed(report_id=report_id, member_id=report.member_id,
                                       kind=report.kind, counted_as=f"counted-{report_id}")  # fmt: skip
        events = [
            actions.dashboard_event(confirmed, f"decision-{nonce}", viewer),
            actions.dashboard_event(counted, confirmed.counted_as, viewer, moment),
        ]
    elif outcome == "rejected":
        rejected = validated(
            ev.ReportRejected, {"reason": "退回理由"}, report_id=report_id,
            member_id=report.member_id, kind=report.kind, reason=reason,
        )  # fmt: skip
        events = [actions.dashboard_event(rejected, f"decision-{nonce}", viewer)]
    else:
        raise refuse("请选择“确认”或“退回”。")
    await published(request, events, "这份审核意见已经提交过，没有重复提交。")
    return RedirectResponse(f"/branch/reports?decided={report_id}", 303)


# --- 消息中心 ------------------------------------------------------------------------------------


@router.get("/me/messages")
async def messages(request: Request, viewer: AnyViewer, api: ViewerApi, forms: Tokens) -> Response:
    """The member's own messages (the notifier's records), unread ones marked."""
    inbox = await api.get(Inbox, "/v1/inbox", {"limit": 100})
    newest = max((n.created_at for n in inbox.items), default=None)
    return page(
        request, "messages.html", title="消息中心", inbox=inbox, newest=newest,
        form_token=forms.issue(viewer, "inbox"),
    )  # fmt: skip


@router.post("/me/messages/read")
async def mark_read(
    request: Request,
    viewer: AnyViewer,
    read_until: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """全部标为已读: inbox.read up to the newest message the page showed."""
    nonce = checked_form(request, csrf, form_token, viewer, "inbox")
    try:
        until = datetime.fromisoformat(read_until)
    except ValueError:
        raise refuse("页面数据不完整，请刷新后重试。") from None
    if until.tzinfo is None or until > datetime.now(UTC) + timedelta(minutes=1):
        raise refuse("页面数据不正确，请刷新后重试。")
    read = ev.InboxRead(member_id=viewer.subject, read_until=until)
    await published(request, [actions.dashboard_event(read, f"inbox-{nonce}", viewer)],
                    "已经标为已读。")  # fmt: skip
    return RedirectResponse("/me/messages", 303)
