"""The registry (branches, departments, members, households, pairings) folded from events: one
fold for every service, so that all of them agree on who is who in any arrival order.

The order is the events' `Stamp`: (time, source, id). Where two events register the same thing,
the later stamp wins, ties in time included; the gateway's projector applies the same condition
in SQL (docs/events.md, "Registry order"). A member is active while no departure is later than
their newest registration; a pairing is in force at a moment when its newest change at or
before that moment paired them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event, EventKey
from mingdeng.contracts.events import EventData


class Stamp(NamedTuple):
    """A total order over events: when they happened, then who said so, then their id."""

    time: datetime
    source: str
    id: str

    @classmethod
    def of(cls, event: Event[EventData]) -> Stamp:
        return cls(event.time, event.source, event.id)

    @property
    def key(self) -> EventKey:
        return (self.source, self.id)


class Pairing(NamedTuple):
    household_id: str
    member_id: str
    paired_at: datetime  # the newest change that paired them


T = TypeVar("T")


def _newest(current: tuple[Stamp, T] | None, stamp: Stamp, value: T) -> tuple[Stamp, T]:
    return (stamp, value) if current is None or stamp > current[0] else current


@dataclass
class Registry:
    branches: dict[str, tuple[Stamp, ev.BranchRegistered]] = field(default_factory=dict)
    departments: dict[str, tuple[Stamp, ev.DepartmentRegistered]] = field(default_factory=dict)
    members: dict[str, tuple[Stamp, ev.MemberRegistered]] = field(default_factory=dict)
    departures: dict[str, Stamp] = field(default_factory=dict)  # the newest per member
    households: dict[str, tuple[Stamp, ev.HouseholdRegistered]] = field(default_factory=dict)
    # (household, member) -> stamp of a change -> paired?
    pairings: dict[tuple[str, str], dict[Stamp, bool]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    members_paired_with: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def apply(self, stamp: Stamp, data: EventData) -> bool:
        """Take a registry event in; False (and nothing changed) for any other event."""
        fold = _FOLDS.get(type(data))
        if fold is None:
            return False
        fold(self, stamp, data)
        return True

    # --- the folds, one per event type ------------------------------------------------------

    def _branch(self, stamp: Stamp, data: ev.BranchRegistered) -> None:
        self.branches[data.branch_id] = _newest(self.branches.get(data.branch_id), stamp, data)

    def _department(self, stamp: Stamp, data: ev.DepartmentRegistered) -> None:
        key = data.department_id
        self.departments[key] = _newest(self.departments.get(key), stamp, data)

    def _member(self, stamp: Stamp, data: ev.MemberRegistered) -> None:
        self.members[data.member_id] = _newest(self.members.get(data.member_id), stamp, data)

    def _departure(self, stamp: Stamp, data: ev.MemberLeft) -> None:
        self.departures[data.member_id] = max(stamp, self.departures.get(data.member_id, stamp))

    def _household(self, stamp: Stamp, data: ev.HouseholdRegistered) -> None:
        key = data.household_id
        self.households[key] = _newest(self.households.get(key), stamp, data)

    def _pairing(self, stamp: Stamp, data: ev.HouseholdPaired | ev.HouseholdUnpaired) -> None:
        self.pairings[(data.household_id, data.member_id)][stamp] = isinstance(
            data, ev.HouseholdPaired
        )
        self.members_paired_with[data.household_id].add(data.member_id)

    # --- views ------------------------------------------------------------------------------

    def member(self, member_id: str) -> ev.MemberRegistered | None:
        """The newest registration, whether or not the member has left since."""
        entry = self.members.get(member_id)
        return entry[1] if entry else None

    def is_active(self, member_id: str) -> bool:
        entry = self.members.get(member_id)
        departure = self.departures.get(member_id)
        return entry is not None and (departure is None or departure < entry[0])

    def active_member(self, member_id: str) -> ev.MemberRegistered | None:
        return self.member(member_id) if self.is_active(member_id) else None

    def active_members(self) -> list[ev.MemberRegistered]:
        """Ordered by member id."""
        return [self.members[m][1] for m in sorted(self.members) if self.is_active(m)]

    def department(self, department_id: str) -> ev.DepartmentRegistered | None:
        entry = self.departments.get(department_id)
        return entry[1] if entry else None

    def branch(self, branch_id: str) -> ev.BranchRegistered | None:
        entry = self.branches.get(branch_id)
        return entry[1] if entry else None

    def household(self, household_id: str) -> ev.HouseholdRegistered | None:
        entry = self.households.get(household_id)
        return entry[1] if entry else None

    def department_of(self, member_id: str) -> ev.DepartmentRegistered | None:
        """The department of the member's newest registration."""
        member = self.member(member_id)
        return self.department(member.department_id) if member else None

    def pairing_changes(self, household_id: str, member_id: str) -> list[tuple[Stamp, bool]]:
        """The changes of one pairing, oldest first."""
        return sorted(self.pairings.get((household_id, member_id), {}).items())

    def paired_at(self, household_id: str, member_id: str, moment: datetime) -> bool:
        changes = self.pairings.get((household_id, member_id))
        if not changes:
            return False
        before = [stamp for stamp in changes if stamp.time <= moment]
        return bool(before) and changes[max(before)]

    def pairings_at(self, moment: datetime) -> list[Pairing]:
        """Pairings in force at `moment` of registered households and active members, ordered
        by (household, member)."""
        found = []
        for (household_id, member_id), changes in sorted(self.pairings.items()):
            before = sorted(stamp for stamp in changes if stamp.time <= moment)
            if (
                before
                and changes[before[-1]]
                and household_id in self.households
                and self.is_active(member_id)
            ):
                paired_at = max(stamp.time for stamp in before if changes[stamp])
                found.append(Pairing(household_id, member_id, paired_at))
        return found


_FOLDS: dict[type[EventData], Callable[[Registry, Stamp, Any], None]] = {
    ev.BranchRegistered: Registry._branch,
    ev.DepartmentRegistered: Registry._department,
    ev.MemberRegistered: Registry._member,
    ev.MemberLeft: Registry._departure,
    ev.HouseholdRegistered: Registry._household,
    ev.HouseholdPaired: Registry._pairing,
    ev.HouseholdUnpaired: Registry._pairing,
}
REGISTRY_EVENTS: tuple[type[EventData], ...] = tuple(_FOLDS)
