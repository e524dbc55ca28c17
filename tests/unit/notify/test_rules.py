"""SPEC §5 rules, with a fixed clock."""

from __future__ import annotations

from datetime import timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.derived import QuarterSelection, RankingSizes, SelectedMember
from mingdeng.notify.domain import rules
from mingdeng.notify.domain.delivery import (
    Limit,
    after_quiet_hours,
    after_rate_limits,
    backoff,
    parse_quiet_hours,
)
from mingdeng.notify.domain.state import NotifyState
from tests.support.builders import Events, at


def bureau(e: Events | None = None) -> NotifyState:
    e = e or Events()
    state = NotifyState()
    for event in [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00", leader="L1"),
        e.department("d2", "b1", "2026-06-01 09:00", leader="L2"),
        e.member("M1", "d1", "2026-06-01 09:00", name="王芳"),
        e.member(
            "S1",
            "d2",
            "2026-06-01 09:00",
            name="李书记",
            roles=("member", "secretary"),
            phone="13900000001",
        ),
        e.member(
            "L1",
            "d1",
            "2026-06-01 09:00",
            name="张局",
            roles=("member", "leader"),
            phone="13900000002",
        ),
        e.member("N1", "d1", "2026-06-01 09:00", name="无号", phone=None),
        e(ev.MaximSubmitted(maxim_id="x1", author_id="M1", text="廉洁自律。"), "2026-06-01 09:00"),
        e(ev.MaximSubmitted(maxim_id="x2", author_id="M1", text="守住底线。"), "2026-06-01 09:00"),
        e(ev.MaximSubmitted(maxim_id="x3", author_id="M1", text="未批准。"), "2026-06-01 09:00"),
        e(ev.MaximApproved(maxim_id="x1"), "2026-06-02 09:00"),
        e(ev.MaximApproved(maxim_id="x2"), "2026-06-02 09:00"),
    ]:
        state.apply(event)
    return state


def test_a_violation_reminds_the_member_and_the_branch_secretary_immediately() -> None:
    e = Events()
    state = bureau(e)
    state.apply(e.violation("v1", "M1", "2026-11-20 23:30", rule=4))
    messages = rules.violation_reminders(state, "v1")
    assert [(m.key, m.urgent) for m in messages] == [
        ("violation_reminder/M1/v1", True),
        ("violation_secretary/S1/v1", True),
    ]
    assert messages[0].params == {
        "name": "王芳",
        "date": "2026-11-20",
        "rule": "4",
        "description": "上班时间离岗",
    }
    assert [m.stale_after for m in messages] == [at("2026-11-21 23:30")] * 2


def test_no_reminder_for_a_retracted_violation_or_an_unregistered_member() -> None:
    e = Events()
    state = bureau(e)
    state.apply(e.violation("v1", "M1", "2026-11-20 10:00"))
    state.apply(e.retraction("v1", "2026-11-20 11:00"))
    state.apply(e.violation("v2", "ghost", "2026-11-20 10:00"))
    assert rules.violation_reminders(state, "v1") == []
    assert rules.violation_reminders(state, "v2") == []


def test_an_appeal_decision_and_a_rejected_report_are_told_to_the_member_once() -> None:
    e = Events()
    state = bureau(e)
    state.apply(e.violation("v1", "M1", "2026-11-20 10:30", rule=4))
    upheld = ev.AppealUpheld(appeal_id="a1", violation_id="v1", member_id="M1", reason="属实")
    state.apply(e(upheld, "2026-11-22 09:00"))
    again = ev.AppealRejected(appeal_id="a1", violation_id="v1", member_id="M1", reason="晚到")
    state.apply(e(again, "2026-11-22 09:05"))  # a second decision of the same appeal
    report = ev.ReportSubmitted(report_id="r1", member_id="M1", kind="household",
                                happened_on="2026-11-19", household_id="h1")  # fmt: skip
    state.apply(e(report, "2026-11-19 18:00"))
    refused = ev.ReportRejected(report_id="r1", member_id="M1", kind="household", reason="日期有误")
    state.apply(e(refused, "2026-11-21 09:00"))

    assert state.take_affected().decisions == {"a1", "r1"}
    told = rules.decision_message(state, "a1")
    assert told is not None and (told.rule, told.recipient_id, told.key) == (
        "appeal_upheld", "M1", "appeal_upheld/M1/a1",
    )  # fmt: skip
    assert told.params == {"name": "王芳", "date": "2026-11-20", "rule": "第4条", "reason": "属实"}
    assert not told.urgent and told.stale_after == at("2026-11-23 09:00")
    report_told = rules.decision_message(state, "r1")
    assert report_told is not None and report_told.params == {
        "name": "王芳", "date": "2026-11-19", "kind": "结对户走访", "reason": "日期有误",
    }  # fmt: skip


def test_the_talk_task_is_due_in_7_days_done_by_a_talk_and_cancelled_by_a_retraction() -> None:
    e = Events()
    state = bureau(e)
    state.apply(e.violation("v1", "M1", "2026-11-20 10:00"))
    task = rules.talk_task(state, "v1")
    assert task is not None
    assert (task.task_id, task.assignee_id, task.status, task.due) == (
        "talk/v1",
        "S1",
        "open",
        at("2026-11-27 10:00"),
    )
    talk = e(
        ev.TalkHeld(talk_id="t1", host_id="S1", member_id="M1", category="member"),
        "2026-11-22 10:00",
    )
    state.apply(talk)
    done = rules.talk_task(state, "v1")
    assert done is not None and (done.status, done.done_by_event.id) == ("done", talk.id)  # type: ignore[union-attr]
    state.apply(e.retraction("v1", "2026-11-24 10:00"))
    assert rules.talk_task(state, "v1").status == "cancelled"  # type: ignore[union-attr]


def test_commendation_tasks_go_to_the_leader_of_the_exemplars_line() -> None:
    e = Events()
    state = bureau(e)
    selection = QuarterSelection(
        quarter="2026Q3",
        status="final",
        rules_version="2026.1",
        excellent_departments=[],
        ranked=RankingSizes(member=2, department=0, branch=0),
        exemplars=[
            SelectedMember(rank=1, member_id="M1", name="王芳", department_id="d1", index=98.0),
            SelectedMember(rank=2, member_id="S1", name="李书记", department_id="d2", index=90.0),
        ],
    )
    closed = at("2026-10-11 00:00")
    tasks = rules.commendation_tasks(state, selection, closed)
    assert [(t.task_id, t.assignee_id, t.due) for t in tasks] == [
        ("commendation/2026Q3/M1", "L1", closed + timedelta(days=14)),
        ("commendation/2026Q3/S1", "L2", closed + timedelta(days=14)),
    ]
    state.apply(
        e(
            ev.VisitMade(visit_id="cv", member_id="L1", kind="commendation", target_member_id="M1"),
            "2026-10-15 10:00",
        )
    )
    tasks = rules.commendation_tasks(state, selection, closed)
    assert [t.status for t in tasks] == ["done", "open"]
    overdue = rules.overdue_commendations(state, tasks, at("2026-10-26 00:00"))
    assert [m.key for m in overdue] == ["commendation_overdue/L2/commendation/2026Q3/S1"]
    assert overdue[0].stale_after == closed + timedelta(days=14 + 30)
    assert rules.commendation_assigned(state, tasks[1]).stale_after == tasks[1].due
    provisional = selection.model_copy(update={"status": "provisional"})
    assert rules.commendation_tasks(state, provisional, closed) == []


def test_the_daily_maxim_rotates_least_recently_sent_first_and_respects_opt_out() -> None:
    e = Events()
    state = bureau(e)
    assert rules.maxim_of_the_day(state, {}) == "x1"
    assert rules.maxim_of_the_day(state, {"x1": "2026-11-24"}) == "x2"
    assert rules.maxim_of_the_day(state, {"x1": "2026-11-24", "x2": "2026-11-23"}) == "x2"
    state.apply(e(ev.MemberPreferencesSet(member_id="L1", daily_maxim=False), "2026-11-01 10:00"))
    messages = rules.daily_maxims(state, "x1", "2026-11-25")
    assert [m.key for m in messages] == [
        "daily_maxim/M1/2026-11-25",
        "daily_maxim/N1/2026-11-25",
        "daily_maxim/S1/2026-11-25",
    ]
    assert messages[0].params["maxim"] == "廉洁自律。"


def test_the_monthly_bulletin_counts_the_month() -> None:
    e = Events()
    state = bureau(e)
    for event in [
        e.violation("v1", "M1", "2026-10-03 10:00", rule=2),
        e.violation("v2", "S1", "2026-10-20 10:00", rule=2),
        e.violation("v3", "M1", "2026-11-02 10:00"),
        e.retraction("v2", "2026-10-25 10:00"),
        e.delivered("L10", "M1", "2026-10-15 15:00"),
        e.attended("L10", "S1", "2026-10-15 15:00"),
        e.attended("L10", "N1", "2026-10-15 15:00"),
        e.community_visit("M1", "2026-10-05 10:00"),
    ]:
        state.apply(event)
    document = rules.bulletin(state, "2026-10", at("2026-11-01 09:00"))
    assert (document.violations, document.retractions, document.lectures, document.attendances) == (
        2,
        1,
        1,
        2,
    )
    assert document.violations_by_rule == {"第2条": 2}
    assert document.violations_by_department == {"科室d1": 1, "科室d2": 1}
    assert "明灯督查通报（2026-10）" in document.text and "参学2人次" in document.text
    assert [m.recipient_id for m in rules.bulletin_summaries(state, document)] == ["L1", "S1"]


def test_quiet_hours_hold_everything_but_urgent_messages_until_seven() -> None:
    assert after_quiet_hours(at("2026-11-24 21:59"), urgent=False) == at("2026-11-24 21:59")
    assert after_quiet_hours(at("2026-11-24 22:00"), urgent=False) == at("2026-11-25 07:00")
    assert after_quiet_hours(at("2026-11-25 06:59"), urgent=False) == at("2026-11-25 07:00")
    assert after_quiet_hours(at("2026-11-24 23:30"), urgent=True) == at("2026-11-24 23:30")
    assert after_quiet_hours(at("2026-11-24 23:30"), urgent=False, quiet=None) == at(
        "2026-11-24 23:30"
    )
    lunch = parse_quiet_hours("12:00-13:30")
    assert after_quiet_hours(at("2026-11-24 12:10"), urgent=False, quiet=lunch) == at(
        "2026-11-24 13:30"
    )
    assert after_quiet_hours(at("2026-11-24 23:30"), urgent=False, quiet=lunch) == at(
        "2026-11-24 23:30"
    )
    assert parse_quiet_hours("") is None


def test_per_number_limits() -> None:
    limits = [
        Limit(timedelta(minutes=1), 1),
        Limit(timedelta(hours=1), 5),
        Limit(timedelta(days=1), 10),
    ]
    now = at("2026-11-24 12:00")
    assert after_rate_limits(now, [], limits) == now
    assert after_rate_limits(now, [now - timedelta(seconds=20)], limits) == now + timedelta(
        seconds=40
    )
    five = [now - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert after_rate_limits(now, five, limits) == now + timedelta(minutes=10)
    ten = [now - timedelta(hours=h) for h in range(2, 12)]
    assert after_rate_limits(now, ten, limits) == now - timedelta(hours=11) + timedelta(days=1)


def test_backoff_doubles_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]
