"""Names for the ids the API answers with: members (with their 科室 where two share a name),
departments, branches, households (户主 and 村) and lectures (title). Pages show these,
never the ids (issue 22); they only name what an answer the viewer may read already refers to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import asyncpg


@dataclass(frozen=True)
class Person:
    name: str
    department_id: str


@dataclass(frozen=True)
class Department:
    name: str
    branch_id: str


@dataclass(frozen=True)
class Household:
    head_name: str
    village: str


@dataclass(frozen=True)
class Lecture:
    date: date | None
    title: str | None


@dataclass(frozen=True)
class Directory:
    members: Mapping[str, Person] = field(default_factory=dict)
    departments: Mapping[str, Department] = field(default_factory=dict)
    branches: Mapping[str, str] = field(default_factory=dict)
    households: Mapping[str, Household] = field(default_factory=dict)
    lectures: Mapping[str, Lecture] = field(default_factory=dict)
    shared_names: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = Counter(person.name for person in self.members.values())
        shared = frozenset(name for name, count in names.items() if count > 1)
        object.__setattr__(self, "shared_names", shared)

    def member(self, member_id: str | None) -> str:
        """The member's name, with the 科室 when another member has the same name."""
        person = self.members.get(member_id or "")
        if person is None:
            return "未登记人员"
        if person.name in self.shared_names:
            return f"{person.name}（{self.department(person.department_id)}）"
        return person.name

    def department_of(self, member_id: str | None) -> str:
        person = self.members.get(member_id or "")
        return self.department(person.department_id) if person else "—"

    def department(self, department_id: str | None) -> str:
        found = self.departments.get(department_id or "")
        return found.name if found else "—"

    def branch(self, branch_id: str | None) -> str:
        return self.branches.get(branch_id or "", "—")

    def household(self, household_id: str | None) -> str:
        found = self.households.get(household_id or "")
        return f"{found.head_name}户（{found.village}）" if found else "未登记农户"

    def lecture_title(self, lecture_id: str | None) -> str:
        """《title》, without the date (shown beside it)."""
        found = self.lectures.get(lecture_id or "")
        return f"《{found.title}》" if found and found.title else "（未排期的讲堂）"


async def read_directory(connection: asyncpg.Connection) -> Directory:
    members = await connection.fetch("SELECT member_id, name, department_id FROM members")
    departments = await connection.fetch("SELECT department_id, name, branch_id FROM departments")
    branches = await connection.fetch("SELECT branch_id, name FROM branches")
    households = await connection.fetch("SELECT household_id, head_name, village FROM households")
    lectures = await connection.fetch("SELECT lecture_id, date, title FROM lectures")
    return Directory(
        members={r["member_id"]: Person(r["name"], r["department_id"]) for r in members},
        departments={
            r["department_id"]: Department(r["name"], r["branch_id"]) for r in departments
        },
        branches={r["branch_id"]: r["name"] for r in branches},
        households={r["household_id"]: Household(r["head_name"], r["village"]) for r in households},
        lectures={r["lecture_id"]: Lecture(r["date"], r["title"]) for r in lectures},
    )
