"""The office's reads of the roster, the organisation, the lectures and the actions done on
the pages (docs/api.md): SQL only, each answer as rows of plain values."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

ACTIVE = """(m.left_at IS NULL OR (m.left_at, m.left_source COLLATE "C", m.left_id COLLATE "C")
             < (m.registered_at, m.registered_source COLLATE "C", m.registered_id COLLATE "C"))"""
MEMBER_COLUMNS = f"""m.member_id, m.name, m.department_id, d.branch_id, m.roles, m.party_member,
    m.phone, m.born_on, m.joined_party_on, m.position, {ACTIVE} AS active,
    m.registered_at, m.registered_id AS version"""


async def members(
    connection: asyncpg.Connection, *, search: str | None, department_id: str | None,
    branch_id: str | None, role: str | None, status: str, limit: int, offset: int,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """Registered members (not a departure read before any registration), by name."""
    where = f"""m.registered_at > '-infinity'
        AND ($1::text IS NULL OR strpos(m.name, $1) > 0 OR m.member_id = $1)
        AND ($2::text IS NULL OR m.department_id = $2)
        AND ($3::text IS NULL OR d.branch_id = $3)
        AND ($4::text IS NULL OR $4 = ANY(m.roles))
        AND ($5 = 'all' OR ({ACTIVE}) = ($5 = 'active'))"""
    source = "members m LEFT JOIN departments d USING (department_id)"
    params = (search or None, department_id or None, branch_id or None, role or None, status)
    total = await connection.fetchval(f"SELECT count(*) FROM {source} WHERE {where}", *params)
    rows = await connection.fetch(
        f"""SELECT {MEMBER_COLUMNS} FROM {source} WHERE {where}
            ORDER BY d.branch_id NULLS LAST, m.department_id, m.name, m.member_id
            LIMIT $6 OFFSET $7""",
        *params, limit, offset,
    )  # fmt: skip
    return total, [dict(row) for row in rows]


async def member(connection: asyncpg.Connection, member_id: str) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        f"""SELECT {MEMBER_COLUMNS} FROM members m
            LEFT JOIN departments d USING (department_id)
            WHERE m.member_id = $1 AND m.registered_at > '-infinity'""",
        member_id,
    )
    return dict(row) if row else None


async def organisation(connection: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    branches = await connection.fetch("SELECT branch_id, name FROM branches ORDER BY branch_id")
    departments = await connection.fetch(
        f"""SELECT d.department_id, d.name, d.branch_id, d.leader_id,
                   (SELECT count(*) FROM members m
                    WHERE m.department_id = d.department_id AND {ACTIVE}) AS members
            FROM departments d ORDER BY d.branch_id, d.department_id"""
    )
    return {"branches": [dict(r) for r in branches],
            "departments": [dict(r) for r in departments]}  # fmt: skip


LECTURE_COLUMNS = """l.lecture_id, l.date, l.module, l.theme, l.title, l.speaker_id,
    l.delivered_at, l.delivered_by,
    (SELECT count(*) FROM attendances a WHERE a.lecture_id = l.lecture_id) AS attendances"""


async def lectures(connection: asyncpg.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Lectures scheduled for a day from `first` to `last`, latest first."""
    rows = await connection.fetch(
        f"""SELECT {LECTURE_COLUMNS} FROM lectures l
            WHERE l.date BETWEEN $1 AND $2 ORDER BY l.date DESC, l.lecture_id""",
        first,
        last,
    )
    return [dict(row) for row in rows]


async def lecture(connection: asyncpg.Connection, lecture_id: str) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        f"SELECT {LECTURE_COLUMNS} FROM lectures l WHERE l.lecture_id = $1", lecture_id
    )
    if row is None:
        return None
    attendees = await connection.fetch(
        """SELECT member_id, attended_at AS at FROM attendances
           WHERE lecture_id = $1 ORDER BY attended_at, member_id""",
        lecture_id,
    )
    return {**dict(row), "attendees": [dict(a) for a in attendees]}


async def actions(
    connection: asyncpg.Connection, types: list[str], actor: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    where = "($1::text[] = '{}' OR type = ANY($1)) AND ($2::text IS NULL OR actor = $2)"
    total = await connection.fetchval(
        f"SELECT count(*) FROM dashboard_actions WHERE {where}", types, actor
    )
    rows = await connection.fetch(
        f"""SELECT id, type, subject, time, actor, actorrole, data::text AS data
            FROM dashboard_actions WHERE {where}
            ORDER BY time DESC, id LIMIT $3 OFFSET $4""",
        types, actor, limit, offset,
    )  # fmt: skip
    return total, [dict(row) for row in rows]
