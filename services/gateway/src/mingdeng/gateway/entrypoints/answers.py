"""What the API answers: a model per response body (the OpenAPI document shows them). Read
models that travel from a service are the contracts' models, extended with what the gateway
adds (`computed_at`, a scope's part)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mingdeng.contracts.derived import (
    Bulletin,
    EventRef,
    Notification,
    SelectedDepartment,
    SelectedMember,
    Status,
    Task,
)
from mingdeng.contracts.outreach_views import (
    Community,
    Coverage,
    Liaison,
    MemberCoverage,
    MemberHouseholds,
    OverduePairing,
    Suggestions,
    Talks,
    UnpairedHousehold,
)

Components = dict[str, float]


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IssuedBulletin(Bulletin):
    """A bulletin as issued, and what changed since: violations of its cases retracted after
    it was issued (an upheld 申诉), with when; `retracted_after_issue` counts every such case,
    `retracted_cases` names those the viewer may see."""

    retracted_after_issue: int
    retracted_cases: dict[str, datetime]


class MemberRank(Answer):
    rank: int | None  # None until scoring has ranked a new score (at most a second)
    member_id: str
    name: str
    department_id: str | None
    index: float
    components: Components


class VanguardRanking(Answer):
    quarter: str
    status: Status
    total: int
    items: list[MemberRank]


class SubjectRank(Answer):
    rank: int | None
    id: str
    name: str
    index: float
    components: Components


class FortressRanking(Answer):
    quarter: str
    status: Status
    total: int
    items: list[SubjectRank]


class EventSummary(Answer):
    """An event that fed an index. `time` (when it happened) and `data` (its payload, as the
    contracts define it for `type`) are there once the gateway has read the event itself."""

    source: str
    id: str
    type: str
    time: datetime | None = None
    data: dict[str, Any] | None = None


class MemberIndex(Answer):
    """A member's Vanguard Index explained. `details`, `events` and `events_total` leave out
    violations for those who may not see them."""

    quarter: str
    member_id: str
    name: str
    department_id: str | None
    rank: int | None
    index: float
    components: Components
    details: dict[str, float | int | list[str]]
    events: dict[str, list[EventSummary]]
    events_total: dict[str, int]
    status: Status
    rules_version: str


class ContributingEvents(Answer):
    quarter: str
    member_id: str
    component: Literal["performance", "study", "service", "discipline"]
    total: int
    items: list[EventSummary]


class LateEvent(Answer):
    source: str
    id: str
    type: str | None
    reasons: list[dict[str, str]]
    at: datetime


class QuarterSelections(Answer):
    """`late_events` (read after the close, kept and not applied) is shown to admins only."""

    quarter: str
    status: Status
    rules_version: str
    exemplars: list[SelectedMember]
    excellent_departments: list[SelectedDepartment]
    late_events: list[LateEvent] | None = None


class BoardExemplar(Answer):
    rank: int
    name: str
    department: str | None
    index: float


class BoardDepartment(Answer):
    rank: int
    name: str
    index: float


class Board(Answer):
    quarter: str
    exemplars: list[BoardExemplar]
    excellent_departments: list[BoardDepartment]


class ModuleTally(Answer):
    module: str
    sessions: int
    attendances: int


class ThemeTally(Answer):
    theme: str
    sessions: int
    attendances: int


class SpeakerTally(Answer):
    speaker_id: str
    name: str | None
    sessions: int


class LectureStats(Answer):
    """`sessions`: lectures delivered (the report's 微课堂); `issues`: months with one or more
    of them (the report's 期 of the 财政月讲堂, 一月一讲)."""

    year: int
    sessions: int
    issues: int = 0
    attendances: int
    by_module: list[ModuleTally]
    by_theme: list[ThemeTally]
    by_speaker: list[SpeakerTally]


class KpiReport(Answer):
    value: float
    unit: str | None
    reported_at: datetime
    source: str
    id: str


class Kpi(KpiReport):
    """The latest report of a (subject, metric, period) by time, and all of them newest first."""

    subject_type: Literal["member", "department", "bureau"]
    subject_id: str
    metric: str
    period: str
    history: list[KpiReport]


class Kpis(Answer):
    total: int
    items: list[Kpi]


class Tasks(Answer):
    total: int
    items: list[Task]


class TalkObligation(Answer):
    violation_id: str
    member_id: str
    branch_id: str | None
    assignee_id: str
    secretary_ids: list[str]
    violation_at: datetime
    due: datetime
    status: Literal["open", "overdue", "done"]
    done_at: datetime | None
    talk_id: str | None
    done_by_event: EventRef | None
    task_id: str


class TalkObligations(Answer):
    items: list[TalkObligation]
    computed_at: datetime


class CoverageAnswer(Coverage):
    by_member: list[MemberCoverage]
    overdue: list[OverduePairing]
    computed_at: datetime


class OverdueAnswer(Answer):
    items: list[OverduePairing]
    computed_at: datetime


class ReassignmentAnswer(Answer):
    items: list[UnpairedHousehold]
    computed_at: datetime


class HouseholdsAnswer(MemberHouseholds):
    computed_at: datetime


class LiaisonAnswer(Liaison):
    computed_at: datetime


class TalksAnswer(Talks):
    computed_at: datetime


class SuggestionsAnswer(Suggestions):
    computed_at: datetime


class CommunityAnswer(Community):
    computed_at: datetime


class Health(Answer):
    status: Literal["ok"]


class Readiness(Answer):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool]


class Notifications(Answer):
    items: list[Notification]
