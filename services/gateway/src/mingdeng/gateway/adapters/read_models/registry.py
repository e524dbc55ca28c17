"""Branches, departments and members (with their departures): names, and who may see what.

Ordered as `mingdeng.contracts.registry` folds them (docs/events.md, "Registry order"): each row
keeps the stamp (time, source, id) of the event it holds, and an event replaces it only when
its stamp is later, compared as rows with the strings in code-point order (COLLATE "C", as
Python compares them; a database's own collation may order them otherwise). A departure is
kept beside the registration; a member is active while no departure is later than their
registration (the view `active_members`, migration 0009). The upserts commute, so a
batch writes each table with one pipelined statement.
"""

from __future__ import annotations

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.registry import Stamp
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel


def later_stamp(table: str, column: str, source: str, event_id: str) -> str:
    """`table`'s stamp is earlier than the proposed one (EXCLUDED)."""
    return f"""({table}.{column}, {table}.{source} COLLATE "C", {table}.{event_id} COLLATE "C")
             < (EXCLUDED.{column}, EXCLUDED.{source} COLLATE "C", EXCLUDED.{event_id} COLLATE "C")"""


BRANCH = f"""
    INSERT INTO branches (branch_id, name, stamp, stamp_source, stamp_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (branch_id) DO UPDATE SET name = EXCLUDED.name, stamp = EXCLUDED.stamp,
        stamp_source = EXCLUDED.stamp_source, stamp_id = EXCLUDED.stamp_id
    WHERE {later_stamp("branches", "stamp", "stamp_source", "stamp_id")}"""
DEPARTMENT = f"""
    INSERT INTO departments
        (department_id, name, branch_id, leader_id, stamp, stamp_source, stamp_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (department_id) DO UPDATE SET name = EXCLUDED.name,
        branch_id = EXCLUDED.branch_id, leader_id = EXCLUDED.leader_id, stamp = EXCLUDED.stamp,
        stamp_source = EXCLUDED.stamp_source, stamp_id = EXCLUDED.stamp_id
    WHERE {later_stamp("departments", "stamp", "stamp_source", "stamp_id")}"""
MEMBER = f"""
    INSERT INTO members (member_id, name, department_id, phone, roles, party_member,
                                 home_address, born_on, joined_party_on, position,
                                 registered_at, registered_source, registered_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (member_id) DO UPDATE SET name = EXCLUDED.name,
        department_id = EXCLUDED.department_id, phone = EXCLUDED.phone, roles = EXCLUDED.roles,
        party_member = EXCLUDED.party_member, home_address = EXCLUDED.home_address,
        born_on = EXCLUDED.born_on, joined_party_on = EXCLUDED.joined_party_on,
        position = EXCLUDED.position, registered_at = EXCLUDED.registered_at,
        registered_source = EXCLUDED.registered_source, registered_id = EXCLUDED.registered_id
    WHERE {later_stamp("members", "registered_at", "registered_source", "registered_id")}"""
# a departure read before any registration keeps a row registered at '-infinity' (not active);
# a registration fills it in, and the member is active if it is the later of the two
DEPARTURE = f"""
    INSERT INTO members (member_id, name, department_id, roles, party_member,
                                 registered_at, left_at, left_source, left_id)
    VALUES ($1, $1, '', '{{}}', false, '-infinity', $2, $3, $4)
    ON CONFLICT (member_id) DO UPDATE SET left_at = EXCLUDED.left_at,
        left_source = EXCLUDED.left_source, left_id = EXCLUDED.left_id
    WHERE members.left_at IS NULL
       OR {later_stamp("members", "left_at", "left_source", "left_id")}"""


# the platform's index of phone numbers, for the login: which agencies a number is registered
# in (a row per registration seen; the agency's `active_members` says whether it holds)
PHONES_TABLE = "member_phones"
PHONE = f"""
    INSERT INTO gateway.{PHONES_TABLE} (phone, agency_id, member_id) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING"""


class RegistryBatch(EventBatch):
    def __init__(self) -> None:
        self.branches: list[tuple[object, ...]] = []
        self.departments: list[tuple[object, ...]] = []
        self.members: list[tuple[object, ...]] = []
        self.departures: list[tuple[object, ...]] = []
        self.phones: list[tuple[str, str, str]] = []

    def branch(self, event: Event[ev.BranchRegistered]) -> None:
        self.branches.append((event.data.branch_id, event.data.name, *Stamp.of(event)))

    def department(self, event: Event[ev.DepartmentRegistered]) -> None:
        data = event.data
        self.departments.append(
            (data.department_id, data.name, data.branch_id, data.leader_id, *Stamp.of(event))
        )

    def member(self, event: Event[ev.MemberRegistered]) -> None:
        data = event.data
        self.members.append(
            (
                data.member_id,
                data.name,
                data.department_id,
                data.phone,
                list(data.roles),
                data.party_member,
                data.home_address,
                data.born_on,
                data.joined_party_on,
                data.position,
                *Stamp.of(event),
            )
        )
        if data.phone:
            self.phones.append((data.phone, event.agency, data.member_id))

    def departure(self, event: Event[ev.MemberLeft]) -> None:
        self.departures.append((event.data.member_id, *Stamp.of(event)))

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        written = [
            (BRANCH, self.branches),
            (DEPARTMENT, self.departments),
            (MEMBER, self.members),
            (DEPARTURE, self.departures),
            (PHONE, self.phones),
        ]
        changed = False
        for sql, rows in written:
            if rows:
                await connection.executemany(sql, rows)
                changed = True
        if not changed:
            return set()
        await connection.execute("UPDATE registry_version SET version = version + 1")
        return {"registry"}  # who may see what may have moved


READ_MODEL = EventReadModel(
    tables=("branches", "departments", "members", PHONES_TABLE),
    batch=RegistryBatch,
    reads={
        ev.BranchRegistered: RegistryBatch.branch,
        ev.DepartmentRegistered: RegistryBatch.department,
        ev.MemberRegistered: RegistryBatch.member,
        ev.MemberLeft: RegistryBatch.departure,
    },
)
