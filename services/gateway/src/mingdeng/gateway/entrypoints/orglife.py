"""Organisational life and frontline secondments (issue 24) as the API answers them: each
branch's meetings (三会一课, 主题党日) and which kind is 未按期 (the notifier's `meeting` tasks),
to the office and to the branch's own secretary; a member's attendance, to the member, their
branch secretary and the office; secondments (一线锻炼), to whoever may see the member."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query

from mingdeng.contracts.events import MEETING_KINDS, MeetingKind
from mingdeng.gateway.adapters import orglife as reads
from mingdeng.gateway.domain.access import Org, Principal, may_see_violations, scope_of
from mingdeng.gateway.entrypoints.answers import Answer
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
)
from mingdeng.gateway.entrypoints.problems import Problem, problems

router = APIRouter(prefix="/v1", tags=["organisational life"], responses=VIEWER_PROBLEMS)

Presence = Literal["attended", "leave_granted", "leave_refused", "absent"]
Year = Query(ge=2000, le=2100, description="the calendar year")


class MeetingRow(Answer):
    meeting_id: str
    branch_id: str
    kind: MeetingKind
    held_on: date
    topic: str
    minutes: str | None
    recorded_by: str
    expected: int  # 应到
    attended: int  # 实到
    on_leave: int  # leave granted
    absent: int  # absent, or leave refused


class Meetings(Answer):
    total: int
    items: list[MeetingRow]


class PresenceRow(Answer):
    member_id: str
    presence: Presence
    reason: str | None  # of a leave


class MeetingDetail(MeetingRow):
    presence: list[PresenceRow]


class KindStatus(Answer):
    kind: MeetingKind
    held: int  # in the year asked
    last_held_on: date | None
    overdue_periods: list[str]  # periods missed and not made up: 未按期 while any


class BranchLife(Answer):
    branch_id: str
    kinds: list[KindStatus]  # every kind, in the order of MEETING_KINDS
    overdue: bool


class OrganisationLife(Answer):
    year: int
    branches: list[BranchLife]


class AttendanceRow(Answer):
    meeting_id: str
    branch_id: str
    kind: MeetingKind
    held_on: date
    topic: str
    presence: Presence
    reason: str | None


class Attendance(Answer):
    member_id: str
    total: int
    counts: dict[str, int]  # every presence, 0 when none
    items: list[AttendanceRow]


class SecondmentRow(Answer):
    secondment_id: str
    member_id: str
    post: str
    campaign: str
    from_on: date
    until_on: date


class Secondments(Answer):
    year: int
    total: int
    members: int  # distinct members seconded in the year
    items: list[SecondmentRow]


def branches_seen(viewer: Principal, org: Org) -> list[str] | None:
    """The branches whose organisational life the viewer sees (None: every one): the office
    all, a secretary their own; anyone else is refused."""
    if viewer.role == "admin":
        return None
    if viewer.role == "secretary":
        branch = org.department_branch.get(org.member_department.get(viewer.subject, ""))
        if branch is not None:
            return [branch]
    raise Problem(403, "Forbidden", "the office and the branch's secretary see its meetings")


def _year(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year + 1, 1, 1)


@router.get("/meetings")
async def meetings(
    viewer: Viewer, org: Organisation, connection: Connection, year: int = Year,
    branch_id: str | None = None, kind: MeetingKind | None = None, limit: Limit = 100,
    offset: Offset = 0,
) -> Meetings:  # fmt: skip
    """Meetings of the branches' organisational life held in a year, newest first."""
    seen = branches_seen(viewer, org)
    found = await reads.meetings(connection, seen, branch_id, kind, *_year(year), limit, offset)
    return Meetings(total=found.total,
                    items=[MeetingRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/meetings/{meeting_id}", responses=problems(404))
async def meeting(
    meeting_id: str, viewer: Viewer, org: Organisation, connection: Connection
) -> MeetingDetail:
    """One meeting's record: who attended, who was on leave and why, who was absent."""
    seen = branches_seen(viewer, org)
    row = await reads.meeting(connection, meeting_id)
    if row is None or (seen is not None and row["branch_id"] not in seen):
        raise Problem(404, "Not Found", f"no meeting {meeting_id} the viewer may see")
    presence = [
        PresenceRow.model_validate(dict(r)) for r in await reads.presence(connection, meeting_id)
    ]
    return MeetingDetail(**dict(row), presence=presence)


@router.get("/organisation-life")
async def organisation_life(
    viewer: Viewer, org: Organisation, connection: Connection, year: int = Year
) -> OrganisationLife:
    """Each branch's 三会一课 and 主题党日: how many of each kind it held in the year, the last
    day it held one, and the periods it missed (未按期, the notifier's rule)."""
    seen = branches_seen(viewer, org)
    held = {
        (r["branch_id"], r["kind"]): r
        for r in await reads.kinds_held(connection, seen, *_year(year))
    }
    missed: dict[tuple[str, str], list[str]] = {}
    for r in await reads.overdue(connection, seen):
        missed.setdefault((r["branch_id"], r["kind"]), []).append(r["period"])
    branches = sorted(set(org.department_branch.values())) if seen is None else seen
    answer = []
    for branch_id in branches:
        kinds = []
        for kind in MEETING_KINDS:
            row = held.get((branch_id, kind))
            kinds.append(KindStatus(kind=kind, held=row["held"] if row else 0,
                                    last_held_on=row["last_held_on"] if row else None,
                                    overdue_periods=missed.get((branch_id, kind), [])))  # fmt: skip
        answer.append(BranchLife(branch_id=branch_id, kinds=kinds,
                                 overdue=any(k.overdue_periods for k in kinds)))  # fmt: skip
    return OrganisationLife(year=year, branches=answer)


@router.get("/members/{member_id}/meetings", responses=problems(404))
async def attendance(
    member_id: str, viewer: Viewer, org: Organisation, connection: Connection,
    limit: Limit = 100, offset: Offset = 0,
) -> Attendance:  # fmt: skip
    """A member's record at their branch's meetings, newest first: to the member, their branch
    secretary and the office."""
    if not may_see_violations(viewer, member_id, org):
        raise Problem(403, "Forbidden", "the member, their branch secretary and the office see it")
    found = await reads.member_presence(connection, member_id, limit, offset)
    counts = await reads.member_presence_counts(connection, member_id)
    every = ("attended", "leave_granted", "leave_refused", "absent")
    return Attendance(member_id=member_id, total=found.total,
                      counts={p: counts.get(p, 0) for p in every},
                      items=[AttendanceRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip


@router.get("/secondments")
async def secondments(
    viewer: Viewer, org: Organisation, connection: Connection, year: int = Year,
    limit: Limit = 100, offset: Offset = 0,
) -> Secondments:  # fmt: skip
    """Frontline secondments (一线锻炼) under way in a year, of the members the viewer sees."""
    scope = scope_of(viewer, org)
    among = None if scope.member_ids is None else sorted(scope.member_ids)
    found = await reads.secondments(connection, among, *_year(year), limit, offset)
    members = await reads.seconded_members(connection, among, *_year(year))
    return Secondments(year=year, total=found.total, members=members,
                       items=[SecondmentRow.model_validate(dict(r)) for r in found.rows])  # fmt: skip
