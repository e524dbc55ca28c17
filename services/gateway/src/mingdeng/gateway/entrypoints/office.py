"""Reads for the office (admin): dead letters and rejected events (what upstream sent that was
refused, with the reasons), and the lectures' speaker rotation (docs/api.md)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.adapters import office
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.domain.rotation import rotation
from mingdeng.gateway.entrypoints.deps import Connection, Limit, Offset, requires
from mingdeng.gateway.entrypoints.problems import problems

router = APIRouter(prefix="/v1", tags=["office"])
Admin = Annotated[Principal, Depends(requires("admin"))]
FAILURES = problems(401, 403)


class Reason(BaseModel):
    field: str = Field(description="where in the record or event, `(record)` for all of it")
    message: str


class DeadLetterItem(BaseModel):
    ref: str = Field(description="`mingdeng dead-letters show|redrive <ref>` names it so")
    consumer: str | None = Field(description="who could not read it (scoring, the projector)")
    topic: str = Field(description="the topic the record was read from")
    partition: int
    offset: int
    key: str | None
    kind: str | None = Field(
        description="`dead-lettered upstream` (refused by scoring), or the error of the "
        "gateway's projector"
    )
    reasons: list[Reason]
    failed_at: datetime | None
    redriven_at: datetime | None = Field(description="when a corrected record was sent back")
    raw_preview: str = Field(description="the record as text, its first 2,000 characters")
    raw_chars: int = Field(description="the length of the whole record as text")


class DeadLetters(BaseModel):
    total: int
    items: list[DeadLetterItem]


class RejectedEvent(BaseModel):
    source: str
    id: str
    type: str | None
    reasons: list[Reason]
    at: datetime = Field(description="when scoring rejected it")


class RejectedEvents(BaseModel):
    total: int
    items: list[RejectedEvent]


@router.get("/dead-letters", response_model=DeadLetters, responses=FAILURES)
async def dead_letters(
    viewer: Admin, connection: Connection, limit: Limit = 100, offset: Offset = 0
) -> DeadLetters:
    """Records nobody could read (the dead-letter topic and the projector's own), newest first."""
    total, items = await office.dead_letters(connection, limit, offset)
    return DeadLetters(total=total, items=[DeadLetterItem.model_validate(i) for i in items])


@router.get("/rejected-events", response_model=RejectedEvents, responses=FAILURES)
async def rejected_events(
    viewer: Admin, connection: Connection, limit: Limit = 100, offset: Offset = 0
) -> RejectedEvents:
    """Events accepted at the door that scoring then rejected, with why; newest first."""
    total, items = await office.rejected_events(connection, limit, offset)
    return RejectedEvents(total=total, items=[RejectedEvent.model_validate(i) for i in items])


class Turn(BaseModel):
    member_id: str
    name: str
    department_id: str
    sessions_this_year: int
    last_spoke_on: date | None = Field(description="the last lecture they gave, any year")
    scheduled_on: date | None = Field(description="their scheduled lecture (in `next`)")


class ScheduledLecture(BaseModel):
    lecture_id: str
    on: date
    title: str
    speaker_id: str


class SpeakerRotation(BaseModel):
    year: int
    spoken: list[Turn] = Field(description="spoke this year, most lectures first")
    not_yet: list[Turn] = Field(description="has not spoken this year, longest waiting first")
    upcoming: list[ScheduledLecture] = Field(description="scheduled, not yet given, soonest first")
    next: list[Turn] = Field(description="who is next: see next_rule")
    next_rule: str = Field(
        description="`scheduled`: the speakers of the upcoming lectures; `longest_waiting` "
        "(nothing scheduled): those who have not spoken this year, longest waiting first"
    )


@router.get("/lectures/rotation", response_model=SpeakerRotation, responses=FAILURES)
async def speaker_rotation(
    viewer: Admin,
    connection: Connection,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> SpeakerRotation:
    """The lectures' speakers: who spoke in the year (this year by default), who has not yet,
    and who is next."""
    today = datetime.now(BUSINESS_TZ).date()
    roster, deliveries, scheduled = await office.speakers(connection, today)
    found = rotation(roster, deliveries, scheduled, year or today.year, today)
    return SpeakerRotation.model_validate(asdict(found))
