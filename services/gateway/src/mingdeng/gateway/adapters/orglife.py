"""Reads of organisational life (read model `orglife`) and of the notifier's `meeting` tasks
that say which branch is 未按期. `branches` limits rows to those branches (None: every one)."""

from __future__ import annotations

from datetime import date

import asyncpg

from mingdeng.gateway.adapters.work import Found, _page

BRANCHES = "($1::text[] IS NULL OR {column} = ANY($1::text[]))"
MEETING_COLUMNS = """m.meeting_id, m.branch_id, m.kind, m.held_on, m.topic, m.minutes,
    m.recorded_by, m.expected, m.attended, m.on_leave, m.absent"""


async def meetings(
    connection: asyncpg.Connection, branches: list[str] | None, branch_id: str | None,
    kind: str | None, start: date, end: date, limit: int, offset: int,
) -> Found:  # fmt: skip
    """Meetings held from `start` until before `end`, newest first."""
    return await _page(
        connection, MEETING_COLUMNS, "meetings m",
        f"""{BRANCHES.format(column="m.branch_id")} AND ($2::text IS NULL OR m.branch_id = $2)
            AND ($3::text IS NULL OR m.kind = $3) AND m.held_on >= $4 AND m.held_on < $5""",
        "m.held_on DESC, m.meeting_id",
        (branches, branch_id, kind, start, end), limit, offset,
    )  # fmt: skip


async def meeting(connection: asyncpg.Connection, meeting_id: str) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"SELECT {MEETING_COLUMNS} FROM meetings m WHERE m.meeting_id = $1", meeting_id
    )


async def presence(connection: asyncpg.Connection, meeting_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT member_id, presence, reason FROM meeting_presence
           WHERE meeting_id = $1 ORDER BY presence, member_id""",
        meeting_id,
    )
    return rows


async def kinds_held(
    connection: asyncpg.Connection, branches: list[str] | None, start: date, end: date
) -> list[asyncpg.Record]:
    """(branch, kind, how many held from `start` until before `end`, the last day held ever)."""
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT m.branch_id, m.kind,
                   count(*) FILTER (WHERE m.held_on >= $2 AND m.held_on < $3) AS held,
                   max(m.held_on) AS last_held_on
            FROM meetings m WHERE {BRANCHES.format(column="m.branch_id")}
            GROUP BY m.branch_id, m.kind""",
        branches, start, end,
    )  # fmt: skip
    return rows


async def overdue(
    connection: asyncpg.Connection, branches: list[str] | None
) -> list[asyncpg.Record]:
    """The notifier's open `meeting` tasks: (branch, kind, period missed), oldest first."""
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT body->>'branch_id' AS branch_id, body->>'cause' AS kind,
                   body->>'period' AS period
            FROM tasks t
            WHERE t.kind = 'meeting' AND t.status = 'open'
              AND {BRANCHES.format(column="t.body->>'branch_id'")}
            ORDER BY t.due, t.task_id""",
        branches,
    )
    return rows


async def member_presence(
    connection: asyncpg.Connection, member_id: str, limit: int, offset: int
) -> Found:
    return await _page(
        connection,
        "p.meeting_id, m.branch_id, m.kind, m.held_on, m.topic, p.presence, p.reason",
        "meeting_presence p JOIN meetings m USING (meeting_id)",
        "p.member_id = $1",
        "p.held_on DESC, p.meeting_id",
        (member_id,), limit, offset,
    )  # fmt: skip


async def member_presence_counts(connection: asyncpg.Connection, member_id: str) -> dict[str, int]:
    rows = await connection.fetch(
        """SELECT presence, count(*) AS n FROM meeting_presence
           WHERE member_id = $1 GROUP BY presence""",
        member_id,
    )
    return {row["presence"]: row["n"] for row in rows}


async def secondments(
    connection: asyncpg.Connection, among: list[str] | None, start: date, end: date,
    limit: int, offset: int,
) -> Found:  # fmt: skip
    """Secondments that overlap `start` … before `end`, the latest begun first."""
    return await _page(
        connection,
        "s.secondment_id, s.member_id, s.post, s.campaign, s.from_on, s.until_on",
        "secondments s",
        """($1::text[] IS NULL OR s.member_id = ANY($1::text[]))
           AND s.from_on < $3 AND s.until_on >= $2""",
        "s.from_on DESC, s.secondment_id",
        (among, start, end), limit, offset,
    )  # fmt: skip


async def seconded_members(
    connection: asyncpg.Connection, among: list[str] | None, start: date, end: date
) -> int:
    return int(
        await connection.fetchval(
            """SELECT count(DISTINCT member_id) FROM secondments
               WHERE ($1::text[] IS NULL OR member_id = ANY($1::text[]))
                 AND from_on < $3 AND until_on >= $2""",
            among,
            start,
            end,
        )
    )
