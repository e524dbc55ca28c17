"""The demo's organisational life (issue 24) read by the notifier's own rules: every branch
holds each kind in its rhythm except the fourth branch's 支委会 of last month; one member of the
second branch is flagged after three absences in a row and nobody else is; 12 secondments."""

from __future__ import annotations

from collections import Counter
from datetime import date

from mingdeng.contracts import events as ev
from mingdeng.notify.domain import orglife_rules
from mingdeng.notify.domain.orglife import DEFAULT_RHYTHM_FILE, Rhythm
from mingdeng.notify.domain.state import NotifyState
from mingdeng.ops.demo import build_demo

TODAY = date(2026, 12, 8)


def test_the_demo_branches_keep_their_rhythm_but_one_committee() -> None:
    demo = build_demo(2026, TODAY)
    state = NotifyState()
    for event in demo.events:
        state.apply(event)
    checks = orglife_rules.due_checks(state, Rhythm.load(DEFAULT_RHYTHM_FILE), TODAY)
    assert [(branch, kind, period.name) for branch, kind, period in checks] == [
        ("b4", "committee", "2026-11")
    ]
    flagged = {
        task.member_id: (task.assignee_id, task.status)
        for member_id in state.organisation_life.record
        for task in orglife_rules.absence_tasks(state, member_id)
        if task.status == "open"
    }
    assert len(flagged) == 1
    ((member_id, (secretary, _)),) = flagged.items()
    assert secretary in demo.bureau.secretaries and member_id not in demo.bureau.secretaries
    meetings = [e.data for e in demo.events if isinstance(e.data, ev.MeetingHeld)]
    expected = sum(len(m.attendees) + len(m.leaves) + len(m.absentees) for m in meetings)
    attended = sum(len(m.attendees) for m in meetings)
    assert 0.85 < attended / expected < 0.92  # most come; some on leave, a few absent
    assert Counter(m.branch_id for m in meetings).keys() == {"b1", "b2", "b3", "b4", "b5"}
    seconded = [e.data for e in demo.events if isinstance(e.data, ev.SecondmentAssigned)]
    assert len({s.member_id for s in seconded}) == 12
    assert all(s.campaign.startswith("三大攻坚战") for s in seconded)
