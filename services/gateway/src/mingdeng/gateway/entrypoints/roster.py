"""Reads for the office's work on the pages (admin): the roster (党员名册), the organisation,
the lectures of the 财政月讲堂 with who attended, and the history of the actions done on the
pages (docs/api.md)."""

from __future__ import annotations

import datetime as dt
import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mingdeng.contracts.events import LectureModule, LectureTheme, Role
from mingdeng.gateway.adapters import roster
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.entrypoints.deps import Connection, Limit, Offset, requires
from mingdeng.gateway.entrypoints.problems import Problem, problems

router = APIRouter(prefix="/v1", tags=["office"])
Admin = Annotated[Principal, Depends(requires("admin"))]
FAILURES = problems(401, 403)
NOT_FOUND = problems(401, 403, 404)


class RosterMember(BaseModel):
    member_id: str
    name: str
    department_id: str
    branch_id: str | None = Field(description="the branch of the member's department")
    roles: list[Role]
    party_member: bool
    phone: str | None
    born_on: date | None
    joined_party_on: date | None = Field(description="入党时间, where the registration gives it")
    position: str | None = Field(description="职务, where the registration gives it")
    active: bool = Field(description="false once a `member.left` is later than the registration")
    registered_at: datetime = Field(description="the time of the registration in force")
    version: str = Field(
        description="the id of the registration in force: a form that edits "
        "the member names it, so an edit made since is not overwritten"
    )


class Roster(BaseModel):
    total: int
    items: list[RosterMember]


@router.get("/members", response_model=Roster, responses=FAILURES)
async def members(
    viewer: Admin,
    connection: Connection,
    q: Annotated[str | None, Query(max_length=64, description="part of a name, or an id")] = None,
    department_id: str | None = None,
    branch_id: str | None = None,
    role: Role | None = None,
    status: Literal["active", "left", "all"] = "active",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Roster:
    """The roster (党员名册): members by branch, department and name."""
    total, items = await roster.members(
        connection, search=q, department_id=department_id, branch_id=branch_id, role=role,
        status=status, limit=limit, offset=offset,
    )  # fmt: skip
    return Roster(total=total, items=[RosterMember.model_validate(i) for i in items])


@router.get("/members/{member_id}", response_model=RosterMember, responses=NOT_FOUND)
async def member(viewer: Admin, connection: Connection, member_id: str) -> RosterMember:
    """One member's profile as registered, active or not."""
    found = await roster.member(connection, member_id)
    if found is None:
        raise Problem(404, "Not Found", f"no member {member_id} is registered")
    return RosterMember.model_validate(found)


class BranchItem(BaseModel):
    branch_id: str
    name: str


class DepartmentItem(BaseModel):
    department_id: str
    name: str
    branch_id: str
    leader_id: str
    members: int = Field(description="active members")


class Organisation(BaseModel):
    branches: list[BranchItem]
    departments: list[DepartmentItem]


@router.get("/organisation", response_model=Organisation, responses=FAILURES)
async def organisation(viewer: Admin, connection: Connection) -> Organisation:
    """Branches and departments as registered."""
    return Organisation.model_validate(await roster.organisation(connection))


class LectureItem(BaseModel):
    lecture_id: str
    date: dt.date | None = Field(description="null while only a delivery or attendance is known")
    module: LectureModule | None
    theme: LectureTheme | None
    title: str | None
    speaker_id: str | None
    delivered_at: datetime | None
    delivered_by: str | None
    attendances: int


class Lectures(BaseModel):
    year: int
    items: list[LectureItem]


class Attendee(BaseModel):
    member_id: str
    at: datetime


class LectureDetail(LectureItem):
    attendees: list[Attendee] = Field(description="who attended, first sign-in first")


@router.get("/lectures", response_model=Lectures, responses=FAILURES)
async def lectures(
    viewer: Admin, connection: Connection, year: Annotated[int, Query(ge=2000, le=2100)]
) -> Lectures:
    """The lectures (微课堂) scheduled for a day of `year`, latest first."""
    items = await roster.lectures(connection, date(year, 1, 1), date(year, 12, 31))
    return Lectures(year=year, items=[LectureItem.model_validate(i) for i in items])


@router.get("/lectures/{lecture_id}", response_model=LectureDetail, responses=NOT_FOUND)
async def lecture(viewer: Admin, connection: Connection, lecture_id: str) -> LectureDetail:
    """One lecture: its schedule, delivery and attendees."""
    found = await roster.lecture(connection, lecture_id)
    if found is None:
        raise Problem(404, "Not Found", f"no lecture {lecture_id} is known")
    return LectureDetail.model_validate(found)


class Action(BaseModel):
    id: str = Field(description="the event's id (source `/dashboard`)")
    type: str
    subject: str
    time: datetime
    actor: str = Field(description="the member who did it")
    actorrole: str = Field(description="the role they acted in")
    data: dict[str, Any]


class Actions(BaseModel):
    total: int
    items: list[Action]


@router.get("/actions", response_model=Actions, responses=FAILURES)
async def actions(
    viewer: Admin,
    connection: Connection,
    type: Annotated[list[str] | None, Query(description="event types; all when none")] = None,
    actor: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Actions:
    """What people did on the pages (events from `/dashboard`), newest first."""
    total, items = await roster.actions(connection, type or [], actor, limit, offset)
    return Actions(
        total=total,
        items=[Action.model_validate({**i, "data": json.loads(i["data"])}) for i in items],
    )
