"""Build typed events tersely, with ids that never collide."""

from __future__ import annotations

import itertools
from datetime import datetime

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ


def at(text: str) -> datetime:
    """'2026-07-15 10:00' in business time."""
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_TZ)


class Events:
    """`agency`: the events are that agency's (published by its own source by default)."""

    def __init__(
        self,
        source: str | None = None,
        prefix: str = "e",
        agency: str = DEFAULT_AGENCY,
    ) -> None:
        default = "/systems/test" if agency == DEFAULT_AGENCY else f"/agencies/{agency}/test"
        self.source = source or default
        self.agency = agency
        self._ids = (f"{prefix}{n}" for n in itertools.count(1))

    def __call__(self, data: EventData, when: str | datetime) -> Event[EventData]:
        moment = at(when) if isinstance(when, str) else when
        return new_event(
            data, source=self.source, time=moment, event_id=next(self._ids), agency=self.agency
        )

    # shorthands for the common ones
    def member(
        self,
        member_id: str,
        department_id: str,
        when: str,
        *,
        party: bool = True,
        name: str | None = None,
        roles: tuple[ev.Role, ...] = ("member",),
        phone: str | None = "13900000000",
    ) -> Event[EventData]:
        return self(
            ev.MemberRegistered(
                member_id=member_id,
                name=name or f"成员{member_id}",
                department_id=department_id,
                phone=phone,
                roles=roles,
                party_member=party,
            ),
            when,
        )

    def department(
        self, department_id: str, branch_id: str, when: str, leader: str = "L1"
    ) -> Event[EventData]:
        return self(
            ev.DepartmentRegistered(
                department_id=department_id,
                name=f"科室{department_id}",
                branch_id=branch_id,
                leader_id=leader,
            ),
            when,
        )

    def branch(self, branch_id: str, when: str) -> Event[EventData]:
        return self(ev.BranchRegistered(branch_id=branch_id, name=f"支部{branch_id}"), when)

    def household(self, household_id: str, member_id: str, when: str) -> list[Event[EventData]]:
        return [
            self(
                ev.HouseholdRegistered(
                    household_id=household_id, village="沙市村", head_name="户主"
                ),
                when,
            ),
            self(ev.HouseholdPaired(household_id=household_id, member_id=member_id), when),
        ]

    def delivered(self, lecture_id: str, speaker_id: str, when: str) -> Event[EventData]:
        return self(ev.LectureDelivered(lecture_id=lecture_id, speaker_id=speaker_id), when)

    def attended(self, lecture_id: str, member_id: str, when: str) -> Event[EventData]:
        return self(ev.LectureAttended(lecture_id=lecture_id, member_id=member_id), when)

    def household_visit(self, member_id: str, household_id: str, when: str) -> Event[EventData]:
        return self(
            ev.VisitMade(
                visit_id=f"visit-{next(self._ids)}",
                member_id=member_id,
                kind="household",
                household_id=household_id,
            ),
            when,
        )

    def community_visit(self, member_id: str, when: str) -> Event[EventData]:
        return self(
            ev.VisitMade(
                visit_id=f"visit-{next(self._ids)}", member_id=member_id, kind="community"
            ),
            when,
        )

    def volunteer(self, member_id: str, when: str) -> Event[EventData]:
        return self(
            ev.VolunteerLogged(
                activity_id=f"act-{next(self._ids)}",
                member_id=member_id,
                minutes=120,
                title="志愿服务",
            ),
            when,
        )

    def violation(
        self, violation_id: str, member_id: str, when: str, rule: int = 3
    ) -> Event[EventData]:
        return self(
            ev.ViolationLogged(
                violation_id=violation_id,
                member_id=member_id,
                rule=rule,
                description="上班时间离岗",
                inspector_id="i1",
            ),
            when,
        )

    def retraction(self, violation_id: str, when: str) -> Event[EventData]:
        return self(ev.ViolationRetracted(violation_id=violation_id, reason="申诉成立"), when)

    def kpi(
        self, subject_type: str, subject_id: str, metric: str, period: str, value: float, when: str
    ) -> Event[EventData]:
        return self(
            ev.KpiReported(
                subject_type=subject_type,
                subject_id=subject_id,  # type: ignore[arg-type]
                metric=metric,
                period=period,
                value=value,
            ),
            when,
        )

    def close(self, quarter: str, when: str) -> Event[EventData]:
        return self(ev.QuarterClosed(quarter=quarter), when)

    def agency_registered(
        self, when: str, rules_version: str | None = None, committee_id: str = "jggw"
    ) -> Event[EventData]:
        """This agency's registration, naming the rules version it adopts (None: the
        机关工委's)."""
        data = ev.AgencyRegistered.model_validate(
            {
                "agency_id": self.agency,
                "name": f"{self.agency} 机关",
                "committee_id": committee_id,
                "rules_version": rules_version,
            }
        )
        return self(data, when)


def two_branches(e: Events, when: str) -> list[Event[EventData]]:
    """The small bureau of the browser tests: branches b1 and b2 with a department each; the
    office (O, 王主任), a secretary per branch (S1 李书记, S2 赵书记), members M1 陈晓 and M2
    刘洋 in d1, each with a phone to log in with."""
    return [
        e.branch("b1", when), e.branch("b2", when),
        e.department("d1", "b1", when), e.department("d2", "b2", when),
        e.member("O", "d1", when, name="王主任", roles=("member", "admin"), phone="13900000001"),
        e.member("S1", "d1", when, name="李书记", roles=("member", "secretary"),
                 phone="13900000002"),
        e.member("S2", "d2", when, name="赵书记", roles=("member", "secretary"),
                 phone="13900000003"),
        e.member("M1", "d1", when, name="陈晓", phone="13900000004"),
        e.member("M2", "d1", when, name="刘洋", phone="13900000005"),
    ]  # fmt: skip
