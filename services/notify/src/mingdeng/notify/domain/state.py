"""What the notifier knows, folded from events: recipients and their lines, and the facts its
rules read (violations, talks, commendation visits, maxims, the month's activity)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event, EventKey
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import month_of
from mingdeng.contracts.registry import Registry, Stamp

Recipient = ev.MemberRegistered  # an active member: name, phone, department and roles


@dataclass(frozen=True)
class Violation:
    violation_id: str
    member_id: str
    rule: int
    description: str
    at: datetime


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

    # --- the registry: the shared fold, in its order (time, source, id) ---------------------

    def _registry(self, data: EventData, at: datetime, ref: EventKey) -> None:
        self.registry.apply(Stamp(at, *ref), data)

    # --- what the rules read ----------------------------------------------------------------

    def _preferences_set(self, data: ev.MemberPreferencesSet, at: datetime, ref: EventKey) -> None:
        current_choice = self.maxim_opt_out.get(data.member_id)
        if current_choice is None or current_choice[0] <= at:
            self.maxim_opt_out[data.member_id] = (at, not data.daily_maxim)

    def _violation_logged(self, data: ev.ViolationLogged, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        known = self.violations.get(data.violation_id)
        if known is None or at < known.at:
            self.violations[data.violation_id] = Violation(
                data.violation_id, data.member_id, data.rule, data.description, at
            )

    def _violation_retracted(
        self, data: ev.ViolationRetracted, at: datetime, ref: EventKey
    ) -> None:
        self._counted_at(at)
        self.retractions[data.violation_id] = min(at, self.retractions.get(data.violation_id, at))

    def _talk_held(self, data: ev.TalkHeld, at: datetime, ref: EventKey) -> None:
        self.talks[data.talk_id] = (at, data.member_id, ref)

    def _visit_made(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        kept = VISIT_KINDS[data.kind]
        if kept is not None:
            kept(self, data, at, ref)

    def _commendation_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        assert data.target_member_id is not None
        self.commendation_visits[data.visit_id] = (at, data.target_member_id, ref)

    def _household_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.household_visits[data.visit_id] = at

    def _community_visit(self, data: ev.VisitMade, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.community_visits[data.visit_id] = at

    def _maxim_submitted(self, data: ev.MaximSubmitted, at: datetime, ref: EventKey) -> None:
        self.maxims[data.maxim_id] = data.text

    def _maxim_approved(self, data: ev.MaximApproved, at: datetime, ref: EventKey) -> None:
        self.approved.add(data.maxim_id)

    def _lecture_delivered(self, data: ev.LectureDelivered, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.deliveries[data.lecture_id] = min(at, self.deliveries.get(data.lecture_id, at))

    def _lecture_attended(self, data: ev.LectureAttended, at: datetime, ref: EventKey) -> None:
        self._counted_at(at)
        self.attendances[(data.lecture_id, data.member_id)] = at

    def _quarter_closed(self, data: ev.QuarterClosed, at: datetime, ref: EventKey) -> None:
        self.closes[data.quarter] = min(at, self.closes.get(data.quarter, at))

    # --- who is who -------------------------------------------------------------------------

    def recipient(self, member_id: str) -> Recipient | None:
        """An active member, to write to or to assign a task to."""
        return self.registry.active_member(member_id)

    def active(self) -> list[Recipient]:
        return self.registry.active_members()

    def branch_of(self, member_id: str) -> str | None:
        """The branch of an active member."""
        recipient = self.recipient(member_id)
        department = self.registry.department(recipient.department_id) if recipient else None
        return department.branch_id if department else None

    def secretaries_of(self, member_id: str) -> list[Recipient]:
        """The party secretaries of the member's branch."""
        branch = self.branch_of(member_id)
        if branch is None:
            return []
        return [
            r
            for r in self.active()
            if "secretary" in r.roles and self.branch_of(r.member_id) == branch
        ]

    def leader_of(self, member_id: str) -> str | None:
        """The party-group member whose line covers the member's department."""
        recipient = self.recipient(member_id)
        department = self.registry.department(recipient.department_id) if recipient else None
        return department.leader_id if department else None

    def wants_maxim(self, member_id: str) -> bool:
        choice = self.maxim_opt_out.get(member_id)
        return choice is None or not choice[1]

    def first_activity_month(self) -> str | None:
        """The first month with something a bulletin counts (violations, retractions, lectures,
        attendances, visits), or None while there is nothing."""
        return month_of(self.first_activity) if self.first_activity else None

    def in_month(
        self, moments: dict[str, datetime] | dict[tuple[str, str], datetime], month: str
    ) -> int:
        return sum(1 for moment in moments.values() if month_of(moment) == month)


Handler = Callable[[NotifyState, Any, datetime, EventKey], None]

# The event types the notifier reads, each with the one handler that folds it: the intake keeps
# these and no others.
_HANDLERS: dict[type[EventData], Handler] = {
    ev.MemberRegistered: NotifyState._registry,
    ev.MemberLeft: NotifyState._registry,
    ev.DepartmentRegistered: NotifyState._registry,
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
}
READS: tuple[type[EventData], ...] = tuple(_HANDLERS)

# Every kind of visit, with what the notifier keeps of it (a unit test checks that no kind is
# missing). Liaison visits are counted by no rule and no bulletin figure.
VISIT_KINDS: dict[str, Handler | None] = {
    "commendation": NotifyState._commendation_visit,
    "household": NotifyState._household_visit,
    "community": NotifyState._community_visit,
    "liaison": None,
}
