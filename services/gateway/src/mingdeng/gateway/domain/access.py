"""Who may see what (SPEC §6). Pure: the caller gives the viewer and what is known of the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mingdeng.contracts.agency import DEFAULT_AGENCY

Role = Literal["admin", "secretary", "leader", "member", "publisher"]
ROLES: tuple[Role, ...] = ("admin", "secretary", "leader", "member", "publisher")


@dataclass(frozen=True)
class Principal:
    subject: str  # a member id, or a client id for publishers
    role: Role
    source: str | None = None  # publishers only: the one `source` they may publish
    agency: str = DEFAULT_AGENCY  # the agency whose data it reads; publishers: publish for
    # a 机关工委 admin's: the committee whose every agency it may switch to (as an admin)
    committee: str | None = None


@dataclass(frozen=True)
class Scope:
    """What part of the bureau a viewer may read. `None` means everything."""

    member_ids: frozenset[str] | None
    department_ids: frozenset[str] | None
    branch_ids: frozenset[str] | None

    def allows_member(self, member_id: str) -> bool:
        return self.member_ids is None or member_id in self.member_ids

    def allows_department(self, department_id: str | None) -> bool:
        return self.department_ids is None or department_id in self.department_ids

    def allows_branch(self, branch_id: str | None) -> bool:
        return self.branch_ids is None or branch_id in self.branch_ids


EVERYTHING = Scope(None, None, None)
NOTHING = Scope(frozenset(), frozenset(), frozenset())


@dataclass(frozen=True)
class Org:
    """The registry as the gateway knows it: department -> branch, department -> leader."""

    member_department: dict[str, str]
    department_branch: dict[str, str]
    department_leader: dict[str, str]


def scope_of(viewer: Principal, org: Org) -> Scope:
    """admin: everything; secretary: their branch; leader: the departments of their line;
    member: themself; publisher: nothing."""
    if viewer.role == "admin":
        return EVERYTHING
    if viewer.role == "member":
        return Scope(frozenset({viewer.subject}), frozenset(), frozenset())
    if viewer.role == "secretary":
        own_department = org.member_department.get(viewer.subject)
        branch = org.department_branch.get(own_department or "")
        if branch is None:
            return Scope(frozenset({viewer.subject}), frozenset(), frozenset())
        departments = {d for d, b in org.department_branch.items() if b == branch}
        return _scope_of_departments(departments, org, frozenset({branch}))
    if viewer.role == "leader":
        departments = {d for d, leader in org.department_leader.items() if leader == viewer.subject}
        return _scope_of_departments(departments, org, frozenset())
    return NOTHING


def _scope_of_departments(departments: set[str], org: Org, branches: frozenset[str]) -> Scope:
    members = {m for m, d in org.member_department.items() if d in departments}
    return Scope(frozenset(members), frozenset(departments), branches)


def may_see_violations(viewer: Principal, member_id: str, org: Org) -> bool:
    """Violations and phone numbers: admin, the member's branch secretary, the member."""
    if viewer.role == "admin" or viewer.subject == member_id:
        return True
    if viewer.role != "secretary":
        return False
    branch_of = org.department_branch.get
    mine = branch_of(org.member_department.get(viewer.subject, ""))
    theirs = branch_of(org.member_department.get(member_id, ""))
    return mine is not None and mine == theirs


def departments_chosen(
    org: Org, department_id: str | None, branch_id: str | None
) -> frozenset[str] | None:
    """The departments a ranking is filtered to: the one named, those of the branch named (as
    the registry has them now), both (where they meet), or None when neither is named."""
    chosen: frozenset[str] | None = None
    if department_id is not None:
        chosen = frozenset({department_id})
    if branch_id is not None:
        of_branch = frozenset(d for d, b in org.department_branch.items() if b == branch_id)
        chosen = of_branch if chosen is None else chosen & of_branch
    return chosen
