"""The work people do on the pages (issue 23), as the API answers it: violations (with their
retraction and latest appeal), appeals, members' reports and talks, each to the people who may
see the member's violations (admin, the member's branch secretary, the member), and a member's
own unread messages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query

from mingdeng.contracts.derived import Notification
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.adapters import work as reads
from mingdeng.gateway.domain.access import Org, Principal
from mingdeng.gateway.entrypoints.answers import Answer
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
)

router = APIRouter(prefix="/v1", tags=["members' work"], responses=VIEWER_PROBLEMS)

AppealStatus = Literal["pending", "upheld", "rejected"]
ReportStatus = Literal["pending", "confirmed", "rejected"]


class ViolationRow(Answer):
    violation_id: str
    member_id: str
    rule: int
    description: str
    inspector_id: str
    time: datetime
    retracted_at: datetime | None
    retraction_reason: str | None
    appeal_id: str | None  # the latest appeal of it
    appeal_status: AppealStatus | None


class Violations(Answer):
    total: int
    items: list[ViolationRow]


class AppealRow(Answer):
    appeal_id: str
    violation_id: str
    member_id: str
    reason: str
    filed_at: datetime
    status: AppealStatus
    decision_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    decided_role: str | None
    violation_rule: int | None  # None while the violation is not known here
    violation_description: str | None
    violation_time: datetime | None


class Appeals(Answer):
    total: int
    items: list[AppealRow]


class ReportRow(Answer):
    report_id: str
    member_id: str
    kind: Literal["household", "volunteer", "community"]
    happened_on: date
    household_id: str | None
    title: str | None
    minutes: int | None
    notes: str | None
    submitted_at: datetime
    status: ReportStatus
    decision_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    counted_as: str | None


class Reports(Answer):
    total: int
    items: list[ReportRow]


class TalkRow(Answer):
    talk_id: str
    host_id: str
    member_id: str
    category: Literal["youth", "leadership", "member"]
    reason: str | None
    note: str | None
    time: datetime


class TalksHeld(Answer):
    year: int
    total: int
    by_category: dict[str, int]  # youth, leadership, member: every one, 0 when none
    items: list[TalkRow]


class Inbox(Answer):
    unread: int
    read_until: datetime | None
    items: list[Notification]


def members_seen(viewer: Principal, org: Org) -> list[str] | None:
    """Whose violations, appeals, reports and talks the viewer sees (None: everyone): admin
    all, a secretary their branch's members, anyone else themself (as may_see_violations)."""
    if viewer.role == "admin":
        return None
    if viewer.role == "secretary":
        branch = org.department_branch.get(org.member_department.get(viewer.subject, ""))
        if branch is not None:
            return [m for m, d in org.member_department.items()
                    if org.department_branch.get(d) == branch]  # fmt: skip
    return [viewer.subject]


@router.get("/violations")
async def violations(
    viewer: Viewer, org: Organisation, connection: Connection, member_id: str | None = None,
    limit: Limit = 100, offset: Offset = 0,
) -> Violations:  # fmt: skip
    """Violations of 十不准 (newest first), with their retraction and latest appeal."""
    found = await reads.violations(connection, members_seen(viewer, org), member_id, limit, offset)
    return Violations(total=found.total,
                      items=[ViolationRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/appeals")
async def appeals(
    viewer: Viewer, org: Organisation, connection: Connection, member_id: str | None = None,
    status: AppealStatus | None = None, appeal_id: str | None = None, limit: Limit = 100,
    offset: Offset = 0,
) -> Appeals:  # fmt: skip
    """Appeals (申诉) of violations, pending first, then newest first (`appeal_id`: that one)."""
    seen = members_seen(viewer, org)
    found = await reads.appeals(connection, seen, member_id, status, limit, offset, appeal_id)
    return Appeals(total=found.total,
                   items=[AppealRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/reports")
async def reports(
    viewer: Viewer, org: Organisation, connection: Connection, member_id: str | None = None,
    status: ReportStatus | None = None, report_id: str | None = None, limit: Limit = 100,
    offset: Offset = 0,
) -> Reports:  # fmt: skip
    """Members' reports of visits, volunteering and community 报到, pending first
    (`report_id`: that one)."""
    seen = members_seen(viewer, org)
    found = await reads.reports(connection, seen, member_id, status, limit, offset, report_id)
    return Reports(total=found.total,
                   items=[ReportRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/talks")
async def talks_held(
    viewer: Viewer, org: Organisation, connection: Connection,
    year: int = Query(ge=2000, le=2100), limit: Limit = 100, offset: Offset = 0,
) -> TalksHeld:  # fmt: skip
    """Talks (谈心谈话) held in a year with the members the viewer sees, newest first, and
    their number by category (person-times)."""
    start = datetime(year, 1, 1, tzinfo=BUSINESS_TZ)
    end = datetime(year + 1, 1, 1, tzinfo=BUSINESS_TZ)
    seen = members_seen(viewer, org)
    found = await reads.talks(connection, seen, start, end, limit, offset)
    held = await reads.talks_by_category(connection, seen, start, end)
    by_category = {
        category: held.get(category, 0) for category in ("youth", "leadership", "member")
    }
    return TalksHeld(year=year, total=found.total, by_category=by_category,
                     items=[TalkRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/inbox")
async def inbox(
    viewer: Viewer, connection: Connection, limit: Limit = 50, offset: Offset = 0
) -> Inbox:
    """The viewer's own messages (login codes aside), newest first, and how many arrived
    since they last read them (mingdeng.inbox.read.v1)."""
    since = await reads.read_until(connection, viewer.subject)
    items = await reads.messages(connection, viewer.subject, limit, offset)
    return Inbox(unread=await reads.unread(connection, viewer.subject, since),
                 read_until=since, items=items)  # fmt: skip
