"""Reads of the work done on the pages (read model `work`): violations with their retraction
and latest appeal, appeals, members' reports, talks, and each member's unread messages. `among`
limits the rows to those members (None: everyone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from mingdeng.contracts.derived import Notification

NOT_A_CODE = "body->>'rule' <> 'login_code'"  # a login code is no message to keep
MEMBERS = "($1::text[] IS NULL OR {column} = ANY($1::text[]))"
APPEAL_COLUMNS = """a.appeal_id, a.violation_id, a.member_id, a.reason, a.filed_at, a.status,
    a.decision_reason, a.decided_at, a.decided_by, a.decided_role,
    v.rule AS violation_rule, v.description AS violation_description,
    v.time AS violation_time"""


@dataclass(frozen=True)
class Found:
    """A page of rows, and how many rows match in all."""

    total: int
    rows: list[asyncpg.Record]


async def _page(
    connection: asyncpg.Connection, select: str, source: str, where: str, order: str,
    arguments: tuple[object, ...], limit: int, offset: int,
) -> Found:  # fmt: skip
    """The rows of `source` matching `where` ($1 … $n: `arguments`), counted, and the page of
    them in `order`: both read by PostgreSQL, only the page sent."""
    n = len(arguments)
    total = await connection.fetchval(f"SELECT count(*) FROM {source} WHERE {where}", *arguments)
    rows = await connection.fetch(
        f"SELECT {select} FROM {source} WHERE {where} ORDER BY {order} "
        f"LIMIT ${n + 1} OFFSET ${n + 2}",
        *arguments, limit, offset,
    )  # fmt: skip
    return Found(total, rows)


async def violations(
    connection: asyncpg.Connection, among: list[str] | None, member_id: str | None,
    limit: int, offset: int,
) -> Found:  # fmt: skip
    return await _page(
        connection,
        """v.violation_id, v.member_id, v.rule, v.description, v.inspector_id, v.time,
           r.time AS retracted_at, r.reason AS retraction_reason,
           latest.appeal_id, latest.status AS appeal_status""",
        """violations v
           LEFT JOIN retractions r USING (violation_id)
           LEFT JOIN LATERAL (SELECT a.appeal_id, a.status FROM appeals a
                              WHERE a.violation_id = v.violation_id
                              ORDER BY a.filed_at DESC, a.appeal_id LIMIT 1) latest ON true""",
        f"{MEMBERS.format(column='v.member_id')} AND ($2::text IS NULL OR v.member_id = $2)",
        "v.time DESC, v.violation_id",
        (among, member_id), limit, offset,
    )  # fmt: skip


async def appeals(
    connection: asyncpg.Connection, among: list[str] | None, member_id: str | None,
    status: str | None, limit: int, offset: int, appeal_id: str | None = None,
) -> Found:  # fmt: skip
    return await _page(
        connection, APPEAL_COLUMNS,
        "appeals a LEFT JOIN violations v USING (violation_id)",
        f"""{MEMBERS.format(column="a.member_id")}
            AND ($2::text IS NULL OR a.member_id = $2) AND ($3::text IS NULL OR a.status = $3)
            AND ($4::text IS NULL OR a.appeal_id = $4)""",
        "(a.status = 'pending') DESC, a.filed_at DESC, a.appeal_id",
        (among, member_id, status, appeal_id), limit, offset,
    )  # fmt: skip


async def reports(
    connection: asyncpg.Connection, among: list[str] | None, member_id: str | None,
    status: str | None, limit: int, offset: int, report_id: str | None = None,
) -> Found:  # fmt: skip
    return await _page(
        connection, "*", "reports",
        f"""{MEMBERS.format(column="member_id")}
            AND ($2::text IS NULL OR member_id = $2) AND ($3::text IS NULL OR status = $3)
            AND ($4::text IS NULL OR report_id = $4)""",
        "(status = 'pending') DESC, submitted_at DESC, report_id",
        (among, member_id, status, report_id), limit, offset,
    )  # fmt: skip


async def talks(
    connection: asyncpg.Connection, among: list[str] | None, start: datetime, end: datetime,
    limit: int, offset: int,
) -> Found:  # fmt: skip
    return await _page(
        connection, "talk_id, host_id, member_id, category, reason, note, time", "talks",
        f"{MEMBERS.format(column='member_id')} AND time >= $2 AND time < $3",
        "time DESC, talk_id",
        (among, start, end), limit, offset,
    )  # fmt: skip


async def talks_by_category(
    connection: asyncpg.Connection, among: list[str] | None, start: datetime, end: datetime
) -> dict[str, int]:
    """How many talks of each category (person-times)."""
    rows = await connection.fetch(
        f"""SELECT category, count(*) AS held FROM talks
            WHERE {MEMBERS.format(column="member_id")} AND time >= $2 AND time < $3
            GROUP BY category""",
        among, start, end,
    )  # fmt: skip
    return {row["category"]: row["held"] for row in rows}


async def retracted(
    connection: asyncpg.Connection, violation_ids: list[str]
) -> dict[str, datetime]:
    """Which of these violations were retracted, and when."""
    rows = await connection.fetch(
        "SELECT violation_id, time FROM retractions WHERE violation_id = ANY($1::text[])",
        violation_ids,
    )
    return {row["violation_id"]: row["time"] for row in rows}


async def read_until(connection: asyncpg.Connection, member_id: str) -> datetime | None:
    found: datetime | None = await connection.fetchval(
        "SELECT read_until FROM inbox_reads WHERE member_id = $1", member_id
    )
    return found


async def messages(
    connection: asyncpg.Connection, member_id: str, limit: int, offset: int
) -> list[Notification]:
    """The member's messages, login codes aside, newest first."""
    rows = await connection.fetch(
        f"""SELECT body FROM notifications WHERE recipient_id = $1 AND {NOT_A_CODE}
            ORDER BY (body->>'created_at')::timestamptz DESC, key LIMIT $2 OFFSET $3""",
        member_id, limit, offset,
    )  # fmt: skip
    return [Notification.model_validate_json(row["body"]) for row in rows]


async def unread(connection: asyncpg.Connection, member_id: str, since: datetime | None) -> int:
    """The member's messages (login codes aside) recorded after `since`."""
    count: int = await connection.fetchval(
        """SELECT count(*) FROM notifications
           WHERE recipient_id = $1 AND body->>'rule' <> 'login_code'
             AND ($2::timestamptz IS NULL OR (body->>'created_at')::timestamptz > $2)""",
        member_id, since,
    )  # fmt: skip
    return count
