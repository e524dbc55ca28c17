"""What the notifier knows, folded from events: recipients and their lines, and the facts its
rules read (violations, talks, commendation visits, maxims, the month's activity).

Everything a rule or a schedule looks up is indexed as it is folded (secretaries by department
and departments by branch, violations and talks by member, the month's activity by month), so
that no lookup walks the registry or the history. Each handler also notes what its event
`affected` for the rules: the intake evaluates those, not everything known."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event, EventKey
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import month_of
from mingdeng.contracts.registry import Registry, Stamp
from mingdeng.notify.domain.orglife import OrganisationLife

Recipient = ev.MemberRegistered  # an active member: name, phone, department and roles
Sighting = tuple[datetime, EventKey]  # when something happened, and the event that said so
K = TypeVar("K")


@dataclass(frozen=True)
class Violation:
    violation_id: str
    member_id: str
    rule: int
    description: str
    at: datetime


@dataclass(frozen=True)
class Decision:
    """A decision on a member's appeal or report, to be told to the member: the first one
    folded for its appeal or report holds."""

    rule: str  # appeal_upheld, appeal_rejected or report_rejected: the message's rule
    cause: str  # the appeal's or the report's id
    member_id: str
    reason: str
    at: datetime
    about: str  # what was decided on, in words: the violation's rule, or the report's kind
    day: datetime | date | None  # the violation's moment, or the day reported


@dataclass
class Affected:
    """What the rules must look at again: the events folded since it was last taken changed
    what their rules read."""

    violations: set[str] = field(default_factory=set)  # reminders and the talk task of each
    exemplars: set[str] = field(default_factory=set)  # their commendation tasks, every quarter
    quarters: set[str] = field(default_factory=set)  # every commendation task of the quarter
    decisions: set[str] = field(default_factory=set)  # the message telling each to its member
    meetings_held: set[tuple[str, str]] = field(default_factory=set)  # (branch, kind): tasks
    attendance: set[str] = field(default_factory=set)  # members: their absences task

    def __bool__(self) -> bool:
        return bool(
            self.violations
            or self.exemplars
            or self.quarters
            or self.decisions
            or self.meetings_held
            or self.attendance
        )


class ByMonth(Generic[K]):
    """Keys by the month of their moment; a key moves when its moment does."""

    def __init__(self) -> None:
        self._month: dict[K, str] = {}
        self._keys: defaultdict[str, set[K]] = defaultdict(set)

    def place(self, key: K, moment: datetime) -> None:
        month, before = month_of(moment), self._month.get(key)
        if month == before:
            return
        if before is not None:
            self._keys[before].discard(key)
        self._month[key] = month
        self._keys[month].add(key)

    def keys_in(self, month: str) -> set[K]:
        return self._keys.get(month, set())


@dataclass
class NotifyState:
    registry: Registry = field(default_factory=Registry)
    maxim_opt_out: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    violations: dict[str, Violation] = field(default_factory=dict)
    retractions: dict[str, datetime] = field(default_factory=dict)
    talks: dict[str, tuple[datetime, str, EventKey]] = field(
        default_factory=dict
    )  # id -> (t, member, ref)
    commendation_visits: dict[str, tuple[datetime, str, EventKey]] = field(default_factory=dict)
    maxims: dict[str, str] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)
    deliveries: dict[str, datetime] = field(default_factory=dict)
    attendances: dict[tuple[str, str], datetime] = field(default_factory=dict)
    household_visits: dict[str, datetime] = field(default_factory=dict)
    community_visits: dict[str, datetime] = field(default_factory=dict)
    closes: dict[str, datetime] = field(default_factory=dict)  # quarter -> when it was closed
    first_activity: datetime | None = None  # the earliest moment a bulletin counts
    decisions: dict[str, Decision] = field(default_factory=dict)  # by appeal or report id
    reported_days: dict[str, date] = field(default_factory=dict)  # report id -> day reported
    health_card_rounds: dict[str, ev.HealthCardRoundOpened] = field(default_factory=dict)
    health_cards_filled: set[tuple[str, str]] = field(default_factory=set)  # (round, member)
    organisation_life: OrganisationLife = field(default_factory=OrganisationLife)
    affected: Affected = field(default_factory=Affected)

    # --- indexes: each kept by the handler that changes what it indexes -----------------------
    # by each member's newest registration, and each department's
    members_by_department: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    secretaries_by_department: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    office_holders: set[str] = field(default_factory=set)  # leaders and secretaries
    departments_by_branch: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    violations_by_member: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    talks_by_member: defaultdict[str, dict[str, Sighting]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    commendation_visits_by_target: defaultdict[str, dict[str, Sighting]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    violations_by_month: ByMonth[str] = field(default_factory=ByMonth)
    retractions_by_month: ByMonth[str] = field(default_factory=ByMonth)
    lectures_by_month: ByMonth[str] = field(default_factory=ByMonth)
    attendances_by_lecture: Counter[str] = field(default_factory=Counter)
    household_visits_by_month: ByMonth[str] = field(default_factory=ByMonth)
    community_visits_by_month: ByMonth[str] = field(default_factory=ByMonth)
    decisions_by_member: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def _counted_at(self, at: datetime) -> None:
        if self.first_activity is None or at < self.first_activity:
            self.first_activity = at

    def apply(self, event: Event[EventData]) -> bool:
        """Take in an event of a type the notifier reads (`READS`); False (and nothing changed)
        for any other."""
        handler = _HANDLERS.get(type(event.data))
        if handler is None:
            return False
        handler(self, event.data, event.time, event.key)
        return True

    def take_affected(self) -> Affected:
        """What the rules must look at again since the last time this was taken."""
        affected, self.affected = self.affected, Affected()
        return affected

    # --- the registry: the shared fold, in its order (time, source, id) ---------------------

    def _member_registered(self, data: ev.MemberRegistered, at: datetime, ref: EventKey) -> None:
        member_id = data.member_id
        before = self.registry.member(member_id)
        self.registry.apply(Stamp(at, *ref), data)
        after = self.registry.member(member_id)
        if before is not after:
            if before is not None:
                self._unindex_member(before)
            assert after is not None
            self._index_member(after)
        self._member_affected(member_id, [before, after])

    def _member_left(self, data: ev.MemberLeft, at: datetime, ref: EventKey) -> None:
        self.registry.apply(Stamp(at, *ref), data)
        self._member_affected(data.member_id, [self.registry.member(data.member_id)])

    def _index_member(self, member: ev.MemberRegistered) -> None:
        self.members_by_department[member.department_id].add(member.member_id)
        if "secretary" in member.roles:
            self.secretaries_by_department[member.department_id].add(member.member_id)
        if {"leader", "secretary"} & set(member.roles):
            self.office_holders.add(member.member_id)

    def _unindex_member(self, member: ev.MemberRegistered) -> None:
        self.members_by_department[member.department_id].discard(member.member_id)
        self.secretaries_by_department[member.department_id].discard(member.member_id)
        self.office_holders.discard(member.member_id)

    def _member_affected(
        self, member_id: str, registrations: Iterable[ev.MemberRegistered | None]
    ) -> None:
        """A member's registration or departure changes their own violations and commendation
        tasks; a secretary's, those of every member of the branches they were and are in."""
        self._violations_affected([member_id])
        self.affected.exemplars.add(member_id)
        self.affected.decisions |= self.decisions_by_member.get(member_id, set())
        for registration in registrations:
            if registration is not None and "secretary" in registration.roles:
                department = self.registry.department(registration.department_id)
                if department is not None:
                    self._branch_affected(department.branch_id)

    def _department_registered(
        self, data: ev.DepartmentRegistered, at: datetime, ref: EventKey
    ) -> None:
        department_id = data.department_id
        before = self.registry.department(department_id)
        self.registry.apply(Stamp(at, *ref), data)
        after = self.registry.department(department_id)
        assert after is not None
        if before is not after:
            if before is not None:
                self.departments_by_branch[before.branch_id].discard(department_id)
            self.departments_by_branch[after.branch_id].add(department_id)
        # its members' branch (their secretaries) and their leader may have changed; and the
        # members its secretaries serve
        members = self.members_by_department.get(department_id, set())
        self._violations_affected(members)
        self.affected.exemplars |= members
        if self.secretaries_by_department.get(department_id):
            for department in (before, after):
                if department is not None:
                    self._branch_affected(department.branch_id)

    def _branch_affected(self, branch_id: str) -> None:
        for department_id in self.departments_by_branch.get(branch_id, set()):
            self._violations_affected(self.members_by_department.get(department_id, set()))

    def _violations_affected(self, members: Iterable[str]) -> None:
        for member_id in members:
            self.affected.violations |= self.violations_by_member.get(member_id, set())

    # --- what the rules read ----------------------------------------------------------------

    def _preferences_set(self, data: ev.MemberPreferencesSet, at: datetime, ref: EventKey) -> None:
        current_choice = self.maxim_opt_out.get(data.member_id)
        if current_choice is None or current_choice[0] <= at:
            self.maxim_opt_out[data.member_id] = (at, not data.daily_maxim)

    def _violation_logged(self, data: ev.ViolationLogged, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        known = self.violations.get(data.violation_id)
        if known is None or at < known.at:
            if known is not None:
                self.violations_by_member[known.member_id].discard(data.violation_id)
            self.violations[data.violation_id] = Violation(
                data.violation_id, data.member_id, data.rule, data.description, at
            )
            self.violations_by_member[data.member_id].add(data.violation_id)
            self.violations_by_month.place(data.violation_id, at)
        self.affected.violations.add(data.violation_id)

    def _violation_retracted(
        self, data: ev.ViolationRetracted, at: datetime, ref: EventKey
    ) -> None:
        self._counted_at(at)
        retracted = min(at, self.retractions.get(data.violation_id, at))
        self.retractions[data.violation_id] = retracted
        self.retractions_by_month.place(data.violation_id, retracted)
        self.affected.violations.add(data.violation_id)

    def _talk_held(self, data: ev.TalkHeld, at: datetime, ref: EventKey) -> None:
        earlier = self.talks.get(data.talk_id)
        if earlier is not None:  # the same talk again: it may name another member
            self.talks_by_member[earlier[1]].pop(data.talk_id, None)
            self._violations_affected([earlier[1]])
        self.talks[data.talk_id] = (at, data.member_id, ref)
        self.talks_by_member[data.member_id][data.talk_id] = (at, ref)
        self._violations_affected([data.member_id])

    def _visit_made(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        kept = VISIT_KINDS[data.kind]
        if kept is not None:
            kept(self, data, at, ref)

    def _commendation_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        target = data.target_member_id
        assert target is not None
        earlier = self.commendation_visits.get(data.visit_id)
        if earlier is not None:  # the same visit again: it may name another member
            self.commendation_visits_by_target[earlier[1]].pop(data.visit_id, None)
            self.affected.exemplars.add(earlier[1])
        self.commendation_visits[data.visit_id] = (at, target, ref)
        self.commendation_visits_by_target[target][data.visit_id] = (at, ref)
        self.affected.exemplars.add(target)

    def _household_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.household_visits[data.visit_id] = at
        self.household_visits_by_month.place(data.visit_id, at)

    def _community_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.community_visits[data.visit_id] = at
        self.community_visits_by_month.place(data.visit_id, at)

    def _maxim_submitted(self, data: ev.MaximSubmitted, at: datetime, ref: EventKey) -> None:
        self.maxims[data.maxim_id] = data.text

    def _maxim_approved(self, data: ev.MaximApproved, at: datetime, ref: EventKey) -> None:
        self.approved.add(data.maxim_id)

    def _lecture_delivered(self, data: ev.LectureDelivered, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        delivered = min(at, self.deliveries.get(data.lecture_id, at))
        self.deliveries[data.lecture_id] = delivered
        self.lectures_by_month.place(data.lecture_id, delivered)

    def _lecture_attended(self, data: ev.LectureAttended, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        key = (data.lecture_id, data.member_id)
        if key not in self.attendances:
            self.attendances_by_lecture[data.lecture_id] += 1
        self.attendances[key] = at

    # --- decisions on what members asked for: appeals and reports ----------------------------

    def _appeal_upheld(self, data: ev.AppealUpheld, at: datetime, ref: EventKey) -> None:
        self._decided("appeal_upheld", data.appeal_id, data, at)

    def _appeal_rejected(self, data: ev.AppealRejected, at: datetime, ref: EventKey) -> None:
        self._decided("appeal_rejected", data.appeal_id, data, at)

    def _decided(
        self, rule: str, appeal_id: str, data: ev.AppealUpheld | ev.AppealRejected, at: datetime
    ) -> None:
        violation = self.violations.get(data.violation_id)
        about = f"第{violation.rule}条" if violation else ""
        self._decision(Decision(rule, appeal_id, data.member_id, data.reason, at, about,
                                violation.at if violation else None))  # fmt: skip

    def _report_submitted(self, data: ev.ReportSubmitted, at: datetime, ref: EventKey) -> None:
        self.reported_days.setdefault(data.report_id, data.happened_on)

    def _report_rejected(self, data: ev.ReportRejected, at: datetime, ref: EventKey) -> None:
        day = self.reported_days.get(data.report_id)
        self._decision(Decision("report_rejected", data.report_id, data.member_id, data.reason,
                                at, REPORT_KINDS[data.kind], day))  # fmt: skip

    def _decision(self, decision: Decision) -> None:
        if decision.cause in self.decisions:
            return  # decided before: the first decision holds
        self.decisions[decision.cause] = decision
        self.decisions_by_member[decision.member_id].add(decision.cause)
        self.affected.decisions.add(decision.cause)

    def _health_card_round_opened(
        self, data: ev.HealthCardRoundOpened, at: datetime, ref: EventKey
    ) -> None:
        self.health_card_rounds[data.round_id] = data  # the newest word on a round holds

    def _health_card_filled(self, data: ev.HealthCardFilled, at: datetime, ref: EventKey) -> None:
        self.health_cards_filled.add((data.round_id, data.member_id))

    # --- organisational life (domain/orglife.py) ----------------------------------------------

    def _branch_registered(self, data: ev.BranchRegistered, at: datetime, ref: EventKey) -> None:
        self.registry.apply(Stamp(at, *ref), data)
        self.organisation_life.branch_registered(data.branch_id, at)

    def _meeting_held(self, data: ev.MeetingHeld, at: datetime, ref: EventKey) -> None:
        self.affected.attendance |= self.organisation_life.meeting_held(data, at, ref)
        self.affected.meetings_held.add((data.branch_id, data.kind))

    def _quarter_closed(self, data: ev.QuarterClosed, at: datetime, ref: EventKey) -> None:
        self.closes[data.quarter] = min(at, self.closes.get(data.quarter, at))
        self.affected.quarters.add(data.quarter)

    # --- who is who -------------------------------------------------------------------------

    def recipient(self, member_id: str) -> Recipient | None:
        """An active member, to write to or to assign a task to."""
        return self.registry.active_member(member_id)

    def active(self) -> list[Recipient]:
        """Every active member, by member id."""
        return self.registry.active_members()

    def active_office_holders(self) -> list[Recipient]:
        """The active leaders and secretaries, by member id."""
        return self._active(self.office_holders)

    def branch_of(self, member_id: str) -> str | None:
        """The branch of an active member."""
        recipient = self.recipient(member_id)
        department = self.registry.department(recipient.department_id) if recipient else None
        return department.branch_id if department else None

    def secretaries_of(self, member_id: str) -> list[Recipient]:
        """The active party secretaries of the member's branch, by member id."""
        branch = self.branch_of(member_id)
        return [] if branch is None else self.secretaries_of_branch(branch)

    def secretaries_of_branch(self, branch_id: str) -> list[Recipient]:
        """The active party secretaries of a branch, by member id."""
        return self._active(
            secretary
            for department_id in self.departments_by_branch.get(branch_id, set())
            for secretary in self.secretaries_by_department.get(department_id, set())
        )

    def _active(self, member_ids: Iterable[str]) -> list[Recipient]:
        found = (self.recipient(member_id) for member_id in member_ids)
        return sorted((r for r in found if r is not None), key=lambda r: r.member_id)

    def leader_of(self, member_id: str) -> str | None:
        """The party-group member whose line covers the member's department."""
        recipient = self.recipient(member_id)
        department = self.registry.department(recipient.department_id) if recipient else None
        return department.leader_id if department else None

    def talks_with(self, member_id: str) -> Iterable[Sighting]:
        return self.talks_by_member.get(member_id, {}).values()

    def commendation_visits_to(self, member_id: str) -> Iterable[Sighting]:
        return self.commendation_visits_by_target.get(member_id, {}).values()

    def wants_maxim(self, member_id: str) -> bool:
        choice = self.maxim_opt_out.get(member_id)
        return choice is None or not choice[1]

    # --- a month's activity, for its bulletin -------------------------------------------------

    def first_activity_month(self) -> str | None:
        """The first month with something a bulletin counts (violations, retractions, lectures,
        attendances, visits), or None while there is nothing."""
        return month_of(self.first_activity) if self.first_activity else None

    def violations_in(self, month: str) -> list[Violation]:
        return [self.violations[v] for v in self.violations_by_month.keys_in(month)]

    def retractions_in(self, month: str) -> int:
        return len(self.retractions_by_month.keys_in(month))

    def lectures_in(self, month: str) -> set[str]:
        return self.lectures_by_month.keys_in(month)

    def attendances_of(self, lectures: Iterable[str]) -> int:
        return sum(self.attendances_by_lecture[lecture] for lecture in lectures)

    def household_visits_in(self, month: str) -> int:
        return len(self.household_visits_by_month.keys_in(month))

    def community_visits_in(self, month: str) -> int:
        return len(self.community_visits_by_month.keys_in(month))


Handler = Callable[[NotifyState, Any, datetime, EventKey], None]

# The event types the notifier reads, each with the one handler that folds it: the intake keeps
# these and no others.
_HANDLERS: dict[type[EventData], Handler] = {
    ev.MemberRegistered: NotifyState._member_registered,
    ev.MemberLeft: NotifyState._member_left,
    ev.DepartmentRegistered: NotifyState._department_registered,
    ev.MemberPreferencesSet: NotifyState._preferences_set,
    ev.ViolationLogged: NotifyState._violation_logged,
    ev.ViolationRetracted: NotifyState._violation_retracted,
    ev.TalkHeld: NotifyState._talk_held,
    ev.VisitMade: NotifyState._visit_made,
    ev.MaximSubmitted: NotifyState._maxim_submitted,
    ev.MaximApproved: NotifyState._maxim_approved,
    ev.LectureDelivered: NotifyState._lecture_delivered,
    ev.LectureAttended: NotifyState._lecture_attended,
    ev.QuarterClosed: NotifyState._quarter_closed,
    ev.AppealUpheld: NotifyState._appeal_upheld,
    ev.AppealRejected: NotifyState._appeal_rejected,
    ev.ReportSubmitted: NotifyState._report_submitted,
    ev.ReportRejected: NotifyState._report_rejected,
    ev.HealthCardRoundOpened: NotifyState._health_card_round_opened,
    ev.HealthCardFilled: NotifyState._health_card_filled,
    ev.BranchRegistered: NotifyState._branch_registered,
    ev.MeetingHeld: NotifyState._meeting_held,
}
READS: tuple[type[EventData], ...] = tuple(_HANDLERS)

# What a member reported, in the words of the message telling them it was rejected
REPORT_KINDS: dict[str, str] = {
    "household": "结对户走访",
    "volunteer": "志愿服务",
    "community": "进社区报到",
}

# Every kind of visit, with what the notifier keeps of it (a unit test checks that no kind is
# missing). Liaison visits are counted by no rule and no bulletin figure.
VISIT_KINDS: dict[str, Handler | None] = {
    "commendation": NotifyState._commendation_visit,
    "household": NotifyState._household_visit,
    "community": NotifyState._community_visit,
    "liaison": None,
}
