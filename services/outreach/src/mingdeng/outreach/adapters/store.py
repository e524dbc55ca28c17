from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import asyncpg

from mingdeng.contracts.codec import parse_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData


async def last_reminded(
    connection: asyncpg.Connection, agency: str
) -> dict[tuple[str, str], datetime]:
    rows = await connection.fetch(
        "SELECT household_id, member_id, reminded_at FROM outreach.reminders WHERE agency = $1",
        agency,
    )
    return {(r["household_id"], r["member_id"]): r["reminded_at"] for r in rows}


async def claim_reminder(
    connection: asyncpg.Connection,
    agency: str,
    household_id: str,
    member_id: str,
    now: datetime,
    every: timedelta,
) -> bool:
    """Take the right to remind about this pairing of `agency` now; False if another took it meanwhile."""
    claimed = await connection.fetchval(
        """INSERT INTO outreach.reminders (household_id, member_id, reminded_at, agency)
           VALUES ($1, $2, $3, $5)
           ON CONFLICT (agency, household_id, member_id) DO UPDATE SET reminded_at = EXCLUDED.reminded_at
           WHERE outreach.reminders.reminded_at <= $3 - $4::interval
           RETURNING true""",
        household_id,
        member_id,
        now,
        every,
        agency,
    )
    return bool(claimed)


async def agencies(connection: asyncpg.Connection, table: str) -> list[str]:
    """The agencies with events in `table` (a walk of its index by agency: a lookup per
    agency, not a read of every event)."""
    rows = await connection.fetch(
        f"""WITH RECURSIVE found AS (
                (SELECT agency FROM {table} ORDER BY agency LIMIT 1)
                UNION ALL
                SELECT (SELECT agency FROM {table} WHERE agency > found.agency
                        ORDER BY agency LIMIT 1)
                FROM found WHERE found.agency IS NOT NULL)
            SELECT agency FROM found WHERE agency IS NOT NULL"""
    )
    return [row["agency"] for row in rows]


async def events_in_order(
    connection: asyncpg.Connection,
    table: str,
    chunk: int = 5000,
    of_agencies: Sequence[str] | None = None,
) -> AsyncIterator[list[Event[EventData]]]:
    """The events kept in `table` (of `of_agencies` only, if given), oldest first, `chunk` at
    a time: a history of any length is folded without holding it all in memory."""
    async with connection.transaction():
        if of_agencies is None:
            query, arguments = f"SELECT body FROM {table} ORDER BY time, source, id", []
        else:
            query = (
                f"SELECT body FROM {table} WHERE agency = ANY($1::text[]) ORDER BY time, source, id"
            )
            arguments = [list(of_agencies)]
        cursor = await connection.cursor(query, *arguments)
        while rows := await cursor.fetch(chunk):
            yield [parse_event(row["body"]) for row in rows]
