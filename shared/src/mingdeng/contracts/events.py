"""Typed payloads (`data`) of every event type in SPEC §2.

Each payload class names its CloudEvents `type` and the data field that must equal the
envelope's `subject` (the Kafka key). Payloads are immutable; unknown extra fields are kept.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mingdeng.contracts.agency import AGENCY_ID
from mingdeng.contracts.periods import PERIOD_PATTERN, QUARTER_PATTERN
from mingdeng.contracts.rules_versions import RulesVersion

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
AgencyId = Annotated[str, StringConstraints(pattern=AGENCY_ID)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{6,20}$")]

Role = Literal["member", "secretary", "leader", "admin"]
LectureModule = Literal["theory", "ideals", "business"]
LectureTheme = Literal["loyalty", "responsibility", "dedication", "integrity"]
VisitKind = Literal["household", "commendation", "liaison", "community"]
TalkCategory = Literal["youth", "leadership", "member"]
ReportKind = Literal["household", "volunteer", "community"]
KpiSubjectType = Literal["member", "department", "bureau"]
# 三会一课 and 主题党日: 支部党员大会, 支委会, 党小组会, 党课, 主题党日
MeetingKind = Literal["general_assembly", "committee", "group", "party_class", "theme_day"]
MEETING_KINDS: tuple[MeetingKind, ...] = (
    "general_assembly",
    "committee",
    "group",
    "party_class",
    "theme_day",
)
MAX_MEETING_PEOPLE = 500

INDEX_KPI_SUBJECT: dict[str, KpiSubjectType] = {"performance": "member", "business": "department"}


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=True)

    event_type: ClassVar[str]
    subject_field: ClassVar[str]

    @property
    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


# --- registry (master data) ---------------------------------------------------------------


class AgencyRegistered(EventData):
    """An agency on the platform (issue 25): the tree of the 机关工委 (working committee of the
    organs) it belongs to, under its parent agency if it has one. Its `agency` attribute is
    the agency it registers; the newest registration by stamp holds."""

    event_type: ClassVar[str] = "mingdeng.agency.registered.v1"
    subject_field: ClassVar[str] = "agency_id"
    agency_id: AgencyId
    name: Text
    committee_id: Id = Field(description="The 机关工委 the agency belongs to")
    parent_agency_id: AgencyId | None = Field(
        default=None, description="The agency above it in the tree, if any"
    )
    rules_version: RulesVersion | None = Field(
        default=None,
        description="The scoring rules version the agency adopts; without it, its 机关工委's"
        " (the platform's rules). A change applies from the earliest quarter still open when"
        " it is read; a closed quarter keeps its final standings",
    )


class BranchRegistered(EventData):
    event_type: ClassVar[str] = "mingdeng.branch.registered.v1"
    subject_field: ClassVar[str] = "branch_id"
    branch_id: Id
    name: Text


class DepartmentRegistered(EventData):
    event_type: ClassVar[str] = "mingdeng.department.registered.v1"
    subject_field: ClassVar[str] = "department_id"
    department_id: Id
    name: Text
    branch_id: Id
    leader_id: Id = Field(description="The party-group member (党组成员) whose line covers it")


class MemberRegistered(EventData):
    event_type: ClassVar[str] = "mingdeng.member.registered.v1"
    subject_field: ClassVar[str] = "member_id"
    member_id: Id
    name: Text
    department_id: Id
    phone: Phone | None = None
    roles: tuple[Role, ...] = Field(min_length=1)
    party_member: bool
    born_on: date | None = None
    joined_party_on: date | None = Field(default=None, description="入党时间")
    position: ShortText | None = Field(default=None, description="职务, e.g. 预算科科长")
    # the family's address, where the leader carries the 喜报 (喜报到家); seen like the phone
    home_address: Text | None = None


class MemberLeft(EventData):
    event_type: ClassVar[str] = "mingdeng.member.left.v1"
    subject_field: ClassVar[str] = "member_id"
    member_id: Id


class MemberPreferencesSet(EventData):
    """A member's notification choices; so far, whether they get the daily maxim SMS."""

    event_type: ClassVar[str] = "mingdeng.member.preferences.set.v1"
    subject_field: ClassVar[str] = "member_id"
    member_id: Id
    daily_maxim: bool


class HouseholdRegistered(EventData):
    event_type: ClassVar[str] = "mingdeng.household.registered.v1"
    subject_field: ClassVar[str] = "household_id"
    household_id: Id
    village: Text
    head_name: Text
    phone: Phone | None = None
    address: Text | None = None


class HouseholdPaired(EventData):
    event_type: ClassVar[str] = "mingdeng.household.paired.v1"
    subject_field: ClassVar[str] = "household_id"
    household_id: Id
    member_id: Id


class HouseholdUnpaired(EventData):
    event_type: ClassVar[str] = "mingdeng.household.unpaired.v1"
    subject_field: ClassVar[str] = "household_id"
    household_id: Id
    member_id: Id


class LiaisonAssigned(EventData):
    event_type: ClassVar[str] = "mingdeng.liaison.assigned.v1"
    subject_field: ClassVar[str] = "leader_id"
    leader_id: Id
    agency_branch_id: Id
    village_branch: Text


# --- activity -----------------------------------------------------------------------------


class LectureScheduled(EventData):
    event_type: ClassVar[str] = "mingdeng.lecture.scheduled.v1"
    subject_field: ClassVar[str] = "lecture_id"
    lecture_id: Id
    date: date
    module: LectureModule
    theme: LectureTheme
    title: Text
    speaker_id: Id


class LectureDelivered(EventData):
    event_type: ClassVar[str] = "mingdeng.lecture.delivered.v1"
    subject_field: ClassVar[str] = "lecture_id"
    lecture_id: Id
    speaker_id: Id


class LectureAttended(EventData):
    event_type: ClassVar[str] = "mingdeng.lecture.attended.v1"
    subject_field: ClassVar[str] = "member_id"
    lecture_id: Id
    member_id: Id


class ViolationLogged(EventData):
    event_type: ClassVar[str] = "mingdeng.violation.logged.v1"
    subject_field: ClassVar[str] = "member_id"
    violation_id: Id
    member_id: Id
    rule: int = Field(ge=1, le=10, description="Which of the ten rules (十不准)")
    description: Text
    inspector_id: Id


class ViolationRetracted(EventData):
    event_type: ClassVar[str] = "mingdeng.violation.retracted.v1"
    subject_field: ClassVar[str] = "violation_id"
    violation_id: Id
    reason: Text


class VisitMade(EventData):
    event_type: ClassVar[str] = "mingdeng.visit.made.v1"
    subject_field: ClassVar[str] = "member_id"
    visit_id: Id
    member_id: Id
    kind: VisitKind
    household_id: Id | None = None
    target_member_id: Id | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _target_matches_kind(self) -> VisitMade:
        if self.kind == "household" and self.household_id is None:
            raise ValueError("a household visit names its household_id")
        if self.kind == "commendation" and self.target_member_id is None:
            raise ValueError("a commendation visit names the exemplar as target_member_id")
        return self


class VolunteerLoggedV1(EventData):
    event_type: ClassVar[str] = "mingdeng.volunteer.logged.v1"
    subject_field: ClassVar[str] = "member_id"
    activity_id: Id
    member_id: Id
    hours: float = Field(gt=0, le=24)
    title: Text


class VolunteerLogged(EventData):
    """v2: duration in whole minutes (v1's fractional hours rounded badly in reports)."""

    event_type: ClassVar[str] = "mingdeng.volunteer.logged.v2"
    subject_field: ClassVar[str] = "member_id"
    activity_id: Id
    member_id: Id
    minutes: int = Field(gt=0, le=24 * 60)
    title: Text


class TalkHeldV1(EventData):
    event_type: ClassVar[str] = "mingdeng.talk.held.v1"
    subject_field: ClassVar[str] = "member_id"
    talk_id: Id
    host_id: Id
    member_id: Id
    category: TalkCategory
    reason: Text | None = None


class TalkHeld(EventData):
    """v2: with the host's short note of the talk (谈话记录), which v1 could not carry."""

    event_type: ClassVar[str] = "mingdeng.talk.held.v2"
    subject_field: ClassVar[str] = "member_id"
    talk_id: Id
    host_id: Id
    member_id: Id
    category: TalkCategory
    reason: Text | None = Field(default=None, description="Why the talk was due (五必谈)")
    note: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


class AppealFiled(EventData):
    """A member appeals (申诉) a violation logged against them, with their reason."""

    event_type: ClassVar[str] = "mingdeng.appeal.filed.v1"
    subject_field: ClassVar[str] = "member_id"
    appeal_id: Id
    violation_id: Id
    member_id: Id = Field(description="The appellant: the member the violation names")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class _AppealDecision(EventData):
    subject_field: ClassVar[str] = "member_id"
    appeal_id: Id
    violation_id: Id
    member_id: Id
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class AppealUpheld(_AppealDecision):
    """The appeal is upheld; published with the violation.retracted it causes."""

    event_type: ClassVar[str] = "mingdeng.appeal.upheld.v1"


class AppealRejected(_AppealDecision):
    """The appeal is rejected (驳回) with the reason told to the member; the violation counts."""

    event_type: ClassVar[str] = "mingdeng.appeal.rejected.v1"


class ReportSubmitted(EventData):
    """A member reports their own household visit, volunteering or community 报到; it counts
    only once their branch secretary confirms it (report.confirmed with the scored event)."""

    event_type: ClassVar[str] = "mingdeng.report.submitted.v1"
    subject_field: ClassVar[str] = "member_id"
    report_id: Id
    member_id: Id
    kind: ReportKind
    happened_on: date = Field(description="The day of the visit, the service or the 报到")
    household_id: Id | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="The volunteer activity, or the community reported to"
    )
    minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    notes: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None

    @model_validator(mode="after")
    def _what_each_kind_names(self) -> ReportSubmitted:
        if self.kind == "household" and self.household_id is None:
            raise ValueError("a household visit report names its household_id")
        if self.kind in ("volunteer", "community") and self.title is None:
            raise ValueError(f"a {self.kind} report names its title")
        if self.kind == "volunteer" and self.minutes is None:
            raise ValueError("a volunteer report names its minutes")
        return self


class ReportConfirmed(EventData):
    """The branch secretary confirms a report; published with the scored event it stands for
    (visit.made or volunteer.logged, the reporter as member)."""

    event_type: ClassVar[str] = "mingdeng.report.confirmed.v1"
    subject_field: ClassVar[str] = "member_id"
    report_id: Id
    member_id: Id
    kind: ReportKind
    counted_as: Id = Field(description="The id of the scored event published with it")


class ReportRejected(EventData):
    """The branch secretary rejects a report, with the reason told to the member."""

    event_type: ClassVar[str] = "mingdeng.report.rejected.v1"
    subject_field: ClassVar[str] = "member_id"
    report_id: Id
    member_id: Id
    kind: ReportKind
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class InboxRead(EventData):
    """A member has read their messages (消息中心) up to a moment."""

    event_type: ClassVar[str] = "mingdeng.inbox.read.v1"
    subject_field: ClassVar[str] = "member_id"
    member_id: Id
    read_until: datetime


class KpiReported(EventData):
    event_type: ClassVar[str] = "mingdeng.kpi.reported.v1"
    subject_field: ClassVar[str] = "subject_id"
    subject_type: KpiSubjectType
    subject_id: Id
    metric: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    period: Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
    value: float = Field(allow_inf_nan=False)
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None

    @model_validator(mode="after")
    def _index_metrics_are_quarterly_scores(self) -> KpiReported:
        expected_subject = INDEX_KPI_SUBJECT.get(self.metric)
        if expected_subject is None:
            return self
        if self.subject_type != expected_subject:
            raise ValueError(f"metric {self.metric!r} is reported for a {expected_subject}")
        if not 0 <= self.value <= 100:
            raise ValueError(f"metric {self.metric!r} is a score from 0 to 100")
        if not re.fullmatch(QUARTER_PATTERN, self.period):
            raise ValueError(f"metric {self.metric!r} is reported per quarter, like 2026Q4")
        return self


class MaximSubmitted(EventData):
    event_type: ClassVar[str] = "mingdeng.maxim.submitted.v1"
    subject_field: ClassVar[str] = "maxim_id"
    maxim_id: Id
    author_id: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class MaximApproved(EventData):
    event_type: ClassVar[str] = "mingdeng.maxim.approved.v1"
    subject_field: ClassVar[str] = "maxim_id"
    maxim_id: Id


class SuggestionSubmitted(EventData):
    event_type: ClassVar[str] = "mingdeng.suggestion.submitted.v1"
    subject_field: ClassVar[str] = "suggestion_id"
    suggestion_id: Id
    department_id: Id
    topic: Text
    text: Text


class SuggestionAdopted(EventData):
    event_type: ClassVar[str] = "mingdeng.suggestion.adopted.v1"
    subject_field: ClassVar[str] = "suggestion_id"
    suggestion_id: Id


class WorkplanAdopted(EventData):
    """A work plan (专题工作思路) drawn up from an adopted suggestion."""

    event_type: ClassVar[str] = "mingdeng.workplan.adopted.v1"
    subject_field: ClassVar[str] = "plan_id"
    plan_id: Id
    suggestion_id: Id
    department_id: Id = Field(description="The department that carries the plan out")
    title: Text


# --- the report's practice: 党性体检, 支部结对共建 (issue 24) ------------------------------------

PartnerKind = Literal["village", "community", "enterprise"]
CardText = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Question = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class HealthCardRoundOpened(EventData):
    """The office opens a round of 党性体检: every party member fills in their political health
    card (政治“保健卡”), the questions below, until `closes_on` (that day included)."""

    event_type: ClassVar[str] = "mingdeng.healthcard.round.opened.v1"
    subject_field: ClassVar[str] = "round_id"
    round_id: Id
    title: Title
    questions: tuple[Question, ...] = Field(min_length=1, max_length=20)
    closes_on: date = Field(description="The last day a card may be filled in")


class HealthCardFilled(EventData):
    """A member fills in their card of a round: one answer per question, in order. Filled
    again before it is reviewed, the newer answers replace the older."""

    event_type: ClassVar[str] = "mingdeng.healthcard.filled.v1"
    subject_field: ClassVar[str] = "member_id"
    round_id: Id
    member_id: Id
    answers: tuple[CardText, ...] = Field(min_length=1, max_length=20)


class HealthCardReviewed(EventData):
    """The member's branch secretary (or the office) has read the card and comments on it; the
    card is then done. The first review holds."""

    event_type: ClassVar[str] = "mingdeng.healthcard.reviewed.v1"
    subject_field: ClassVar[str] = "member_id"
    round_id: Id
    member_id: Id
    reviewer_id: Id
    comment: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class BranchPaired(EventData):
    """支部结对共建: an agency branch paired with an outside organisation (a village branch, a
    community, an enterprise) from `since`."""

    event_type: ClassVar[str] = "mingdeng.branch.paired.v1"
    subject_field: ClassVar[str] = "pairing_id"
    pairing_id: Id
    branch_id: Id
    partner: Title = Field(description="The partner's name, e.g. 道吾村党支部")
    partner_kind: PartnerKind
    since: date


class PairingActivityHeld(EventData):
    """An activity the paired branch and its partner held together, and the agency's members
    who took part."""

    event_type: ClassVar[str] = "mingdeng.pairing.activity.held.v1"
    subject_field: ClassVar[str] = "pairing_id"
    activity_id: Id
    pairing_id: Id
    held_on: date
    title: Title
    participants: tuple[Id, ...] = Field(min_length=1, max_length=500)
    notes: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


# --- organisational life (三会一课, 主题党日) and frontline secondments (一线锻炼) ------------


class MeetingLeave(BaseModel):
    """A member's leave (请假) from a meeting, with the reason, and whether the branch's
    secretary granted it: leave not granted counts as an absence."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    member_id: Id
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    granted: bool


class MeetingHeld(EventData):
    """A meeting of a branch's organisational life as its secretary records it (会议记录):
    who attended, who was on leave, who was absent; the three lists name everyone expected
    (应到) and no one twice."""

    event_type: ClassVar[str] = "mingdeng.meeting.held.v1"
    subject_field: ClassVar[str] = "branch_id"
    meeting_id: Id
    branch_id: Id
    kind: MeetingKind
    held_on: date
    topic: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    attendees: tuple[Id, ...] = Field(max_length=MAX_MEETING_PEOPLE)
    leaves: tuple[MeetingLeave, ...] = Field(default=(), max_length=MAX_MEETING_PEOPLE)
    absentees: tuple[Id, ...] = Field(
        default=(), max_length=MAX_MEETING_PEOPLE, description="Expected, neither came nor asked"
    )
    minutes: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = Field(
        default=None, description="The minutes' summary (会议纪要)"
    )
    recorded_by: Id = Field(description="The secretary who recorded it")

    @model_validator(mode="after")
    def _everyone_once(self) -> MeetingHeld:
        named = [*self.attendees, *(leave.member_id for leave in self.leaves), *self.absentees]
        if len(named) != len(set(named)):
            raise ValueError("a member is named once: attended, on leave or absent")
        if len(named) > MAX_MEETING_PEOPLE:
            raise ValueError(f"a meeting names at most {MAX_MEETING_PEOPLE} members")
        return self


class SecondmentAssigned(EventData):
    """A member sent to a frontline post (一线锻炼), e.g. for the 三大攻坚战; the same
    secondment_id again corrects it (the newest holds), e.g. with the day they came back."""

    event_type: ClassVar[str] = "mingdeng.secondment.assigned.v1"
    subject_field: ClassVar[str] = "member_id"
    secondment_id: Id
    member_id: Id
    post: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Where: the frontline post, e.g. 某村第一书记"
    )
    campaign: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="Which campaign, e.g. 三大攻坚战·精准脱贫"
    )
    from_on: date
    until_on: date

    @model_validator(mode="after")
    def _ordered(self) -> SecondmentAssigned:
        if self.until_on < self.from_on:
            raise ValueError("until_on is not before from_on")
        return self


class QuarterClosed(EventData):
    event_type: ClassVar[str] = "mingdeng.quarter.closed.v1"
    subject_field: ClassVar[str] = "quarter"
    quarter: Annotated[str, StringConstraints(pattern=QUARTER_PATTERN)]


PAYLOAD_TYPES: tuple[type[EventData], ...] = (
    AgencyRegistered,
    BranchRegistered,
    DepartmentRegistered,
    MemberRegistered,
    MemberLeft,
    MemberPreferencesSet,
    HouseholdRegistered,
    HouseholdPaired,
    HouseholdUnpaired,
    LiaisonAssigned,
    LectureScheduled,
    LectureDelivered,
    LectureAttended,
    ViolationLogged,
    ViolationRetracted,
    VisitMade,
    VolunteerLoggedV1,
    VolunteerLogged,
    TalkHeldV1,
    TalkHeld,
    AppealFiled,
    AppealUpheld,
    AppealRejected,
    ReportSubmitted,
    ReportConfirmed,
    ReportRejected,
    InboxRead,
    KpiReported,
    MaximSubmitted,
    MaximApproved,
    SuggestionSubmitted,
    SuggestionAdopted,
    WorkplanAdopted,
    MeetingHeld,
    SecondmentAssigned,
    QuarterClosed,
    HealthCardRoundOpened,
    HealthCardFilled,
    HealthCardReviewed,
    BranchPaired,
    PairingActivityHeld,
)

PAYLOAD_BY_TYPE: dict[str, type[EventData]] = {cls.event_type: cls for cls in PAYLOAD_TYPES}
