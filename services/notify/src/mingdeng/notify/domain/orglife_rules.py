"""The rules of organisational life (domain/orglife.py says them): the `meeting` task and SMS of
a kind not held within its period, the `absences` task of a member absent three times in a row.
Functions of the state, so they may be evaluated again at any time."""

from __future__ import annotations

from datetime import date, datetime, time

from mingdeng.contracts.derived import EventRef, Task
from mingdeng.contracts.events import MEETING_KINDS
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.notify.domain.orglife import ABSENCES_FLAGGED_AT, Meeting, Rhythm, RhythmPeriod, Run
from mingdeng.notify.domain.rules import TALK_DUE_AFTER, Message
from mingdeng.notify.domain.state import NotifyState

# the kinds in the words of the SMS and of the pages
MEETING_KIND_NAMES: dict[str, str] = {
    "general_assembly": "支部党员大会",
    "committee": "支委会",
    "group": "党小组会",
    "party_class": "党课",
    "theme_day": "主题党日",
}
assert set(MEETING_KIND_NAMES) == set(MEETING_KINDS)


def due_checks(
    state: NotifyState, rhythm: Rhythm, today: date
) -> list[tuple[str, str, RhythmPeriod]]:
    """(branch, kind, period) for every registered branch and kind whose latest ended period
    has no meeting of the kind: older periods are not looked at (history is not news), nor a
    period that began before the branch was registered, nor one that ended before the branch
    recorded its first meeting of any kind (it keeps its organisational life here from then)."""
    checks: list[tuple[str, str, RhythmPeriod]] = []
    for branch_id in sorted(state.registry.branches):
        since = state.organisation_life.branch_since.get(branch_id)
        first = state.organisation_life.first_meeting.get(branch_id)
        for kind in MEETING_KINDS:
            period = RhythmPeriod.last_ended(today, rhythm.months[kind])
            if since is None or since > period.first_day or first is None:
                continue
            if first >= period.end_day:
                continue
            held = state.organisation_life.held_since(branch_id, kind, period.first_day)
            if held is None or held.held_on >= period.end_day:
                checks.append((branch_id, kind, period))
    return checks


def meeting_task(
    state: NotifyState, branch_id: str, kind: str, period: RhythmPeriod
) -> Task | None:
    """The secretary's task to hold the kind missed in `period`: open until a meeting of the
    kind is recorded as held on or after the period's first day (in it, recorded late, or a
    make-up 补开 after it). None while the branch has no active secretary."""
    secretaries = state.secretaries_of_branch(branch_id)
    if not secretaries:
        return None
    held = state.organisation_life.held_since(branch_id, kind, period.first_day)
    return Task(
        task_id=f"meeting/{branch_id}/{kind}/{period.name}",
        kind="meeting",
        assignee_id=secretaries[0].member_id,
        member_id=secretaries[0].member_id,
        cause=kind,
        status="done" if held else "open",
        due=period.end,
        created_at=period.end,
        done_at=_day_start(held.held_on) if held else None,
        done_by_event=_ref(held) if held else None,
        branch_id=branch_id,
        period=period.name,
    )


def meeting_overdue(state: NotifyState, task: Task) -> Message:
    """The one SMS of a missed period, worth sending until the next period ends (a notifier
    down longer, or history loaded late, records it as suppressed)."""
    assert task.branch_id is not None and task.period is not None
    branch = state.registry.branch(task.branch_id)
    secretary = state.recipient(task.assignee_id)
    period = RhythmPeriod.named(task.period)
    months = 1 if "-" in task.period else 3
    next_period = RhythmPeriod.containing(period.end_day, months)
    return Message(
        "meeting_overdue",
        task.assignee_id,
        f"{task.branch_id}/{task.cause}/{task.period}",
        {
            "secretary": secretary.name if secretary else "",
            "branch": branch.name if branch else task.branch_id,
            "period": _period_words(task.period),
            "kind": MEETING_KIND_NAMES[task.cause],
        },
        stale_after=next_period.end,
    )


def absence_tasks(state: NotifyState, member_id: str) -> list[Task]:
    """The member's current run of absences, when long enough (open), and the last flagged run
    that ended (done by the meeting they next attended; cancelled when a corrected record
    broke it). None while their branch has no other active secretary."""
    life = state.organisation_life
    tasks = []
    ended = life.ended_runs.get(member_id)
    if ended is not None:
        tasks.append(_absence_task(state, member_id, ended))
    run = life.trailing_run(member_id)
    if len(run) >= ABSENCES_FLAGGED_AT:
        tasks.append(_absence_task(state, member_id, Run(run, None)))
    return [task for task in tasks if task is not None]


def _absence_task(state: NotifyState, member_id: str, run: Run) -> Task | None:
    first = run.meetings[0]
    flagged = _day_start(run.meetings[ABSENCES_FLAGGED_AT - 1].held_on)
    secretaries = [
        s for s in state.secretaries_of_branch(first.branch_id) if s.member_id != member_id
    ]
    if not secretaries:
        return None
    ongoing = state.organisation_life.trailing_run(member_id)[:1] == (first,)
    status = "open" if ongoing else ("done" if run.ended_by else "cancelled")
    ended_by = run.ended_by if status == "done" else None
    return Task(
        task_id=f"absences/{member_id}/{first.meeting_id}",
        kind="absences",
        assignee_id=secretaries[0].member_id,
        member_id=member_id,
        cause=first.meeting_id,
        status=status,
        due=flagged + TALK_DUE_AFTER,
        created_at=flagged,
        done_at=_day_start(ended_by.held_on) if ended_by else None,
        done_by_event=_ref(ended_by) if ended_by else None,
        branch_id=first.branch_id,
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), BUSINESS_TZ)


def _ref(meeting: Meeting) -> EventRef:
    return EventRef(source=meeting.ref[0], id=meeting.ref[1])


def _period_words(period: str) -> str:
    if "Q" in period:
        return f"{period[:4]}年第{period[5]}季度"
    return f"{period[:4]}年{int(period[5:7])}月"
