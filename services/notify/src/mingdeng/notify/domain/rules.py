"""SPEC §5 as functions of the state and a moment: which messages to send, which tasks to keep.

Every message has a key (rule, recipient, cause): the outbox sends at most one per key, so the
rules may be evaluated again at any time (after a redelivery, a late registration) safely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from mingdeng.contracts.derived import (
    Bulletin,
    BulletinCase,
    EventRef,
    QuarterSelection,
    ReminderRequest,
    Task,
)
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter, month_after
from mingdeng.notify.domain.state import NotifyState

TALK_DUE_AFTER = timedelta(days=7)
COMMENDATION_DUE_AFTER = timedelta(days=14)
# History loaded late must not page people about long-past things: such messages are recorded
# as suppressed, with the reason, instead of being sent.
REMINDER_RELEVANT_FOR = timedelta(days=1)
OVERDUE_REMINDER_RELEVANT_FOR = timedelta(days=30)
HEALTH_CARD_REMIND_BEFORE = timedelta(days=3)  # 党性体检: the reminder's day before the close
LOGIN_CODE_VALID_FOR = timedelta(minutes=5)  # the gateway refuses the code after this too


# Every rule the notifier sends, and the parameters it fills: each needs a template that uses
# no others (checked at start, `template_problems`).
RULES: dict[str, frozenset[str]] = {
    "violation_reminder": frozenset({"name", "date", "rule", "description"}),
    "violation_secretary": frozenset({"secretary", "name", "date", "rule", "description"}),
    "daily_maxim": frozenset({"name", "maxim"}),
    "bulletin": frozenset({"name", "month", "violations", "lectures", "attendances"}),
    "commendation_assigned": frozenset({"exemplar", "quarter", "due"}),
    "commendation_overdue": frozenset({"exemplar", "due"}),
    "household_visit_overdue": frozenset({"days"}),
    "login_code": frozenset({"code"}),
    "appeal_upheld": frozenset({"name", "date", "rule", "reason"}),
    "appeal_rejected": frozenset({"name", "date", "rule", "reason"}),
    "report_rejected": frozenset({"name", "date", "kind", "reason"}),
    "health_card_reminder": frozenset({"name", "title", "closes_on"}),
    "meeting_overdue": frozenset({"secretary", "branch", "period", "kind"}),
}


def template_problems(templates: Mapping[str, Collection[str]]) -> list[str]:
    """What is wrong with the templates (by rule name: the parameters each one uses): a rule
    without a template, or a template using a parameter its rule does not fill."""
    problems = [f"no template for the rule {rule!r}" for rule in RULES if rule not in templates]
    for rule, params in templates.items():
        unknown = sorted(set(params) - RULES.get(rule, frozenset()))
        if rule in RULES and unknown:
            problems.append(f"the template {rule!r} uses {unknown}, which the rule does not fill")
    return problems


@dataclass(frozen=True)
class Message:
    rule: str  # also the template's name
    recipient_id: str
    cause: str
    params: dict[str, str] = field(default_factory=dict)
    urgent: bool = False  # sent in quiet hours too
    stale_after: datetime | None = None  # not worth sending after this (history loaded late)

    @property
    def key(self) -> str:
        return f"{self.rule}/{self.recipient_id}/{self.cause}"


def _day(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d")


def violation_reminders(state: NotifyState, violation_id: str) -> list[Message]:
    """An immediate reminder to the member and to their branch's secretaries. None for a
    retracted violation, or while the member is not registered (re-evaluated when they are)."""
    violation = state.violations.get(violation_id)
    if violation is None or violation_id in state.retractions:
        return []
    member = state.recipient(violation.member_id)
    if member is None:
        return []
    params = {
        "name": member.name,
        "date": _day(violation.at),
        "rule": str(violation.rule),
        "description": violation.description,
    }
    stale = violation.at + REMINDER_RELEVANT_FOR
    messages = [
        Message(
            "violation_reminder",
            member.member_id,
            violation_id,
            params,
            urgent=True,
            stale_after=stale,
        )
    ]
    for secretary in state.secretaries_of(member.member_id):
        if secretary.member_id != member.member_id:
            messages.append(
                Message(
                    "violation_secretary",
                    secretary.member_id,
                    violation_id,
                    {**params, "secretary": secretary.name},
                    urgent=True,
                    stale_after=stale,
                )
            )
    return messages


def decision_message(state: NotifyState, cause: str) -> Message | None:
    """The decision on a member's appeal or report, told to the member; None while they are
    not registered (evaluated again when they are)."""
    decision = state.decisions.get(cause)
    if decision is None:
        return None
    member = state.recipient(decision.member_id)
    if member is None:
        return None
    day = decision.day
    what = "kind" if decision.rule == "report_rejected" else "rule"
    params = {
        "name": member.name,
        "date": _day(day) if isinstance(day, datetime) else (day.isoformat() if day else "—"),
        "reason": decision.reason,
        what: decision.about,
    }
    return Message(
        decision.rule,
        member.member_id,
        cause,
        params,
        stale_after=decision.at + REMINDER_RELEVANT_FOR,
    )


def talk_task(state: NotifyState, violation_id: str) -> Task | None:
    """A talk (谈心谈话) for the branch secretary, due 7 days after the violation, done by a
    talk.held with that member, cancelled if the violation is retracted."""
    violation = state.violations.get(violation_id)
    if violation is None or state.recipient(violation.member_id) is None:
        return None
    secretaries = [
        s for s in state.secretaries_of(violation.member_id) if s.member_id != violation.member_id
    ]
    if not secretaries:
        return None
    held = sorted((t, ref) for t, ref in state.talks_with(violation.member_id) if t >= violation.at)
    status, done_at, done_by = "open", None, None
    if violation_id in state.retractions:
        status = "cancelled"
    elif held:
        status, done_at, done_by = "done", held[0][0], _ref(held[0][1])
    return Task(
        task_id=f"talk/{violation_id}",
        kind="talk",
        assignee_id=secretaries[0].member_id,
        member_id=violation.member_id,
        cause=violation_id,
        status=status,
        due=violation.at + TALK_DUE_AFTER,
        created_at=violation.at,
        done_at=done_at,
        done_by_event=done_by,
    )


def commendation_tasks(
    state: NotifyState, selection: QuarterSelection, closed_at: datetime
) -> list[Task]:
    """On a final selection: one home delivery of the commendation (喜报到家) per exemplar, for
    the leader whose line covers the exemplar's department, due 14 days after the close, done
    by a commendation visit for that member after the quarter."""
    if selection.status != "final":
        return []
    return [
        task
        for exemplar in selection.exemplars
        if (task := commendation_task(state, selection.quarter, exemplar.member_id, closed_at))
    ]


def commendation_task(
    state: NotifyState, quarter: str, member_id: str, closed_at: datetime
) -> Task | None:
    """The commendation task of one exemplar of the quarter; None while the exemplar has no
    leader (not registered, left, or a department without one)."""
    leader = state.leader_of(member_id)
    if leader is None:
        return None
    quarter_end = Quarter.parse(quarter).end
    visits = sorted(
        (t, ref) for t, ref in state.commendation_visits_to(member_id) if t >= quarter_end
    )
    return Task(
        task_id=f"commendation/{quarter}/{member_id}",
        kind="commendation",
        assignee_id=leader,
        member_id=member_id,
        cause=quarter,
        status="done" if visits else "open",
        due=closed_at + COMMENDATION_DUE_AFTER,
        created_at=closed_at,
        done_at=visits[0][0] if visits else None,
        done_by_event=_ref(visits[0][1]) if visits else None,
    )


def commendation_assigned(state: NotifyState, task: Task) -> Message:
    member = state.recipient(task.member_id)
    return Message(
        "commendation_assigned",
        task.assignee_id,
        task.task_id,
        {
            "exemplar": member.name if member else task.member_id,
            "quarter": task.cause,
            "due": _day(task.due),
        },
        stale_after=task.due,
    )


def overdue_commendations(state: NotifyState, tasks: list[Task], now: datetime) -> list[Message]:
    return [
        Message(
            "commendation_overdue",
            t.assignee_id,
            t.task_id,
            {
                "exemplar": (m.name if (m := state.recipient(t.member_id)) else t.member_id),
                "due": _day(t.due),
            },
            stale_after=t.due + OVERDUE_REMINDER_RELEVANT_FOR,
        )
        for t in tasks
        if t.kind == "commendation" and t.status == "open" and now > t.due
    ]


def maxim_of_the_day(state: NotifyState, last_sent: dict[str, str]) -> str | None:
    """The approved maxim sent least recently (never sent first), ties by id."""
    candidates = sorted(state.approved & set(state.maxims), key=lambda m: (last_sent.get(m, ""), m))
    return candidates[0] if candidates else None


def daily_maxims(state: NotifyState, maxim_id: str, day: str) -> list[Message]:
    """The maxim to every active member who has not opted out. Members without a phone get a
    message too: the outbox records it as suppressed, with the reason."""
    return [
        Message("daily_maxim", r.member_id, day, {"name": r.name, "maxim": state.maxims[maxim_id]})
        for r in state.active()
        if state.wants_maxim(r.member_id)
    ]


def bulletin_months(state: NotifyState, previous: str) -> list[str]:
    """The months that need a bulletin once `previous` has ended: each one from the first with
    activity (history loaded late included) to `previous`, oldest first."""
    month = min(state.first_activity_month() or previous, previous)
    months = [month]
    while month < previous:
        month = month_after(month)
        months.append(month)
    return months


def bulletin(state: NotifyState, month: str, issued_at: datetime) -> Bulletin:
    """The previous month's bulletin (督查通报) as a document."""
    counted = state.violations_in(month)
    by_rule = Counter(f"第{v.rule}条" for v in counted)
    by_department = Counter(_department_name(state, v.member_id) for v in counted)
    retractions = state.retractions_in(month)
    lectures = state.lectures_in(month)
    attendances = state.attendances_of(lectures)
    household = state.household_visits_in(month)
    community = state.community_visits_in(month)
    lines = [
        f"明灯督查通报（{month}）",
        f"一、违反“十不准”{len(counted)}起，申诉撤销{retractions}起。",
        *(f"  {rule}：{n}起" for rule, n in sorted(by_rule.items())),
        *(f"  {department}：{n}起" for department, n in sorted(by_department.items())),
        f"二、财政月讲堂开讲微课堂{len(lectures)}个，参学{attendances}人次。",
        f"三、走访困难群众{household}户次，到社区报到{community}人次。",
    ]
    return Bulletin(
        month=month,
        issued_at=issued_at,
        violations_by_rule=dict(sorted(by_rule.items())),
        violations_by_department=dict(sorted(by_department.items())),
        violations=len(counted),
        retractions=retractions,
        lectures=len(lectures),
        attendances=attendances,
        household_visits=household,
        community_visits=community,
        text="\n".join(lines),
        cases=[
            BulletinCase(
                violation_id=v.violation_id,
                member_id=v.member_id,
                name=r.name if (r := state.recipient(v.member_id)) else v.member_id,
                department=_department_name(state, v.member_id),
                rule=v.rule,
                description=v.description,
                at=v.at,
                retracted=v.violation_id in state.retractions,
            )
            for v in sorted(counted, key=lambda v: (v.at, v.violation_id))
        ],
    )


def _department_name(state: NotifyState, member_id: str) -> str:
    member = state.recipient(member_id)
    if member is None:
        return "未登记"
    department = state.registry.department(member.department_id)
    return department.name if department else member.department_id


def bulletin_summaries(state: NotifyState, document: Bulletin) -> list[Message]:
    """A summary SMS to every leader and secretary, worth sending until the next month's
    bulletin is due: the bulletins of older history are kept, their summaries suppressed."""
    year, number = map(int, month_after(month_after(document.month)).split("-"))
    next_due = datetime(year, number, 1, tzinfo=BUSINESS_TZ)
    params = {
        "month": document.month,
        "violations": str(document.violations),
        "lectures": str(document.lectures),
        "attendances": str(document.attendances),
    }
    return [
        Message(
            "bulletin",
            r.member_id,
            document.month,
            {**params, "name": r.name},
            stale_after=next_due,
        )
        for r in state.active_office_holders()
    ]


def _ref(ref: tuple[str, str]) -> EventRef:
    return EventRef(source=ref[0], id=ref[1])


def requested_message(request: ReminderRequest) -> Message:
    """The message another service asked for."""
    if request.rule == "login_code":
        return Message(
            request.rule,
            request.recipient_id,
            request.cause,
            {"code": str(request.details.get("code", ""))},
            urgent=True,  # the person is waiting at the login page, night or day
            stale_after=request.requested_at + LOGIN_CODE_VALID_FOR,
        )
    return Message(
        request.rule,
        request.recipient_id,
        request.cause,
        {"days": str(request.details.get("days_without_visit", ""))},
        stale_after=request.requested_at + REMINDER_RELEVANT_FOR,
    )


# --- 党性体检: the political health card (政治“保健卡”) ---------------------------------------


def health_card_reminder_due(closes_on: date, today: date) -> bool:
    """From `HEALTH_CARD_REMIND_BEFORE` days before a round closes to its close date: a closed
    round (history loaded late) reminds nobody."""
    return closes_on - HEALTH_CARD_REMIND_BEFORE <= today <= closes_on


def health_card_rounds_due(state: NotifyState, today: date) -> list[str]:
    return sorted(
        round_id
        for round_id, opened in state.health_card_rounds.items()
        if health_card_reminder_due(opened.closes_on, today)
    )


def health_card_reminders(state: NotifyState, round_id: str) -> list[Message]:
    """A reminder to every active party member who has not filled in their card of the round;
    not worth sending once the round has closed (held in quiet hours past its last day)."""
    opened = state.health_card_rounds[round_id]
    closes = datetime.combine(opened.closes_on + timedelta(days=1), time(), tzinfo=BUSINESS_TZ)
    params = {
        "title": opened.title,
        "closes_on": f"{opened.closes_on.month}月{opened.closes_on.day}日",
    }
    return [
        Message("health_card_reminder", r.member_id, round_id, {**params, "name": r.name},
                stale_after=closes)
        for r in state.active()
        if r.party_member and (round_id, r.member_id) not in state.health_cards_filled
    ]  # fmt: skip
