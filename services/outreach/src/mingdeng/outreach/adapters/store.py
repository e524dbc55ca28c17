from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def last_reminded(connection: asyncpg.Connection) -> dict[tuple[str, str], datetime]:
    rows = await connection.fetch(
        "SELECT household_id, member_id, reminded_at FROM outreach.reminders"
    )
    return {(r["household_id"], r["member_id"]): r["reminded_at"] for r in rows}


async def claim_reminder(
    connection: asyncpg.Connection,
    household_id: str,
    member_id: str,
    now: datetime,
    every: timedelta,
) -> bool:
    """Take the right to remind about this pairing now; False if another took it meanwhile."""
    claimed = await connection.fetchval(
        """INSERT INTO outreach.reminders (household_id, member_id, reminded_at) VALUES ($1, $2, $3)
           ON CONFLICT (household_id, member_id) DO UPDATE SET reminded_at = EXCLUDED.reminded_at
           WHERE outreach.reminders.reminded_at <= $3 - $4::interval
           RETURNING true""",
        household_id,
        member_id,
        now,
        every,
    )
    return bool(claimed)
