"""One valid payload per event type, and a helper to wrap it in a CloudEvent document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from mingdeng.contracts.events import PAYLOAD_BY_TYPE

SAMPLE_DATA: dict[str, dict[str, Any]] = {
    # the default agency's own registration: an event without `agency` belongs to it
    "mingdeng.agency.registered.v1": {
        "agency_id": "default",
        "name": "浏阳市财政局",
        "committee_id": "liuyang-jggw",
        "rules_version": "2026.1",
    },
    "mingdeng.branch.registered.v1": {"branch_id": "b1", "name": "机关第一党支部"},
    "mingdeng.department.registered.v1": {
        "department_id": "d01",
        "name": "预算科",
        "branch_id": "b1",
        "leader_id": "m001",
    },
    "mingdeng.member.registered.v1": {
        "member_id": "m100",
        "name": "王芳",
        "department_id": "d01",
        "phone": "13900000000",
        "roles": ["member"],
        "party_member": True,
        "born_on": "1990-05-01",
    },
    "mingdeng.member.left.v1": {"member_id": "m100"},
    "mingdeng.member.preferences.set.v1": {"member_id": "m100", "daily_maxim": False},
    "mingdeng.household.registered.v1": {
        "household_id": "h001",
        "village": "沙市村",
        "head_name": "李强",
        "address": "3组12号",
    },
    "mingdeng.household.paired.v1": {"household_id": "h001", "member_id": "m100"},
    "mingdeng.household.unpaired.v1": {"household_id": "h001", "member_id": "m100"},
    "mingdeng.liaison.assigned.v1": {
        "leader_id": "m001",
        "agency_branch_id": "b1",
        "village_branch": "沙市村党支部",
    },
    "mingdeng.lecture.scheduled.v1": {
        "lecture_id": "L1",
        "date": "2026-11-15",
        "module": "theory",
        "theme": "loyalty",
        "title": "对党忠诚",
        "speaker_id": "m100",
    },
    "mingdeng.lecture.delivered.v1": {"lecture_id": "L1", "speaker_id": "m100"},
    "mingdeng.lecture.attended.v1": {"lecture_id": "L1", "member_id": "m100"},
    "mingdeng.violation.logged.v1": {
        "violation_id": "v1",
        "member_id": "m100",
        "rule": 3,
        "description": "上班时间离岗",
        "inspector_id": "m002",
    },
    "mingdeng.violation.retracted.v1": {"violation_id": "v1", "reason": "申诉成立"},
    "mingdeng.visit.made.v1": {
        "visit_id": "vis1",
        "member_id": "m100",
        "kind": "household",
        "household_id": "h001",
    },
    "mingdeng.volunteer.logged.v1": {
        "activity_id": "a1",
        "member_id": "m100",
        "hours": 1.5,
        "title": "社区志愿服务",
    },
    "mingdeng.volunteer.logged.v2": {
        "activity_id": "a1",
        "member_id": "m100",
        "minutes": 90,
        "title": "社区志愿服务",
    },
    "mingdeng.talk.held.v1": {
        "talk_id": "t1",
        "host_id": "m008",
        "member_id": "m100",
        "category": "youth",
    },
    "mingdeng.talk.held.v2": {
        "talk_id": "t2",
        "host_id": "m008",
        "member_id": "m100",
        "category": "member",
        "reason": "违反“十不准”",
        "note": "谈了整改措施，本人表示接受。",
    },
    "mingdeng.appeal.filed.v1": {
        "appeal_id": "ap1",
        "violation_id": "v1",
        "member_id": "m100",
        "reason": "当时在处理工作事务，有截图为证。",
    },
    "mingdeng.appeal.upheld.v1": {
        "appeal_id": "ap1",
        "violation_id": "v1",
        "member_id": "m100",
        "reason": "经核实，申诉理由成立。",
    },
    "mingdeng.appeal.rejected.v1": {
        "appeal_id": "ap1",
        "violation_id": "v1",
        "member_id": "m100",
        "reason": "经核实，离岗时间与工作无关。",
    },
    "mingdeng.report.submitted.v1": {
        "report_id": "r1",
        "member_id": "m100",
        "kind": "household",
        "happened_on": "2026-11-20",
        "household_id": "h001",
        "notes": "了解春耕用种情况",
    },
    "mingdeng.report.confirmed.v1": {
        "report_id": "r1",
        "member_id": "m100",
        "kind": "household",
        "counted_as": "report-r1",
    },
    "mingdeng.report.rejected.v1": {
        "report_id": "r1",
        "member_id": "m100",
        "kind": "household",
        "reason": "走访日期有误，请核对后重新报告。",
    },
    "mingdeng.inbox.read.v1": {"member_id": "m100", "read_until": "2026-11-20T09:30:00+08:00"},
    "mingdeng.kpi.reported.v1": {
        "subject_type": "member",
        "subject_id": "m100",
        "metric": "performance",
        "period": "2026Q4",
        "value": 88.5,
    },
    "mingdeng.maxim.submitted.v1": {"maxim_id": "x1", "author_id": "m100", "text": "廉洁自律。"},
    "mingdeng.maxim.approved.v1": {"maxim_id": "x1"},
    "mingdeng.suggestion.submitted.v1": {
        "suggestion_id": "s1",
        "department_id": "d01",
        "topic": "营商环境",
        "text": "简化流程。",
    },
    "mingdeng.suggestion.adopted.v1": {"suggestion_id": "s1"},
    "mingdeng.workplan.adopted.v1": {
        "plan_id": "p1",
        "suggestion_id": "s1",
        "department_id": "d01",
        "title": "财政资金拨付流程再造",
    },
    "mingdeng.meeting.held.v1": {
        "meeting_id": "mt1",
        "branch_id": "b01",
        "kind": "committee",
        "held_on": "2026-11-30",
        "topic": "研究第四季度党员发展工作",
        "attendees": ["m100", "m101"],
        "leaves": [{"member_id": "m102", "reason": "出差", "granted": True}],
        "absentees": [],
        "minutes": "会议研究确定了第四季度党员发展计划。",
        "recorded_by": "m100",
    },
    "mingdeng.secondment.assigned.v1": {
        "secondment_id": "sd1",
        "member_id": "m100",
        "post": "某村驻村第一书记",
        "campaign": "三大攻坚战·精准脱贫",
        "from_on": "2026-03-01",
        "until_on": "2027-02-28",
    },
    "mingdeng.quarter.closed.v1": {"quarter": "2026Q3"},
    "mingdeng.healthcard.round.opened.v1": {
        "round_id": "hc2026",
        "title": "2026年度党性体检",
        "questions": ["入党为什么", "为党做什么"],
        "closes_on": "2026-12-31",
    },
    "mingdeng.healthcard.filled.v1": {
        "round_id": "hc2026",
        "member_id": "m100",
        "answers": ["为人民服务，实现共产主义。", "立足岗位管好财政资金。"],
    },
    "mingdeng.healthcard.reviewed.v1": {
        "round_id": "hc2026",
        "member_id": "m100",
        "reviewer_id": "m002",
        "comment": "初心明确，对照检查具体。",
    },
    "mingdeng.branch.paired.v1": {
        "pairing_id": "pair-b1",
        "branch_id": "b1",
        "partner": "道吾村党支部",
        "partner_kind": "village",
        "since": "2026-03-01",
    },
    "mingdeng.pairing.activity.held.v1": {
        "activity_id": "pa1",
        "pairing_id": "pair-b1",
        "held_on": "2026-07-01",
        "title": "七一联合主题党日",
        "participants": ["m100", "m002"],
    },
}

assert set(SAMPLE_DATA) == set(PAYLOAD_BY_TYPE), "every event type needs a sample"


def cloudevent(
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    time: datetime | str | None = None,
    source: str = "/systems/test",
    event_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    payload = dict(SAMPLE_DATA[event_type] if data is None else data)
    subject = str(payload[PAYLOAD_BY_TYPE[event_type].subject_field])
    moment = time or datetime.now(UTC)
    return {
        "specversion": "1.0",
        "id": event_id or uuid.uuid4().hex,
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": moment if isinstance(moment, str) else moment.isoformat(),
        "datacontenttype": "application/json",
        "data": payload,
        **overrides,
    }
