from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData


async def keep_events(connection: asyncpg.Connection, events: Sequence[Event[EventData]]) -> None:
    await connection.executemany(
        """INSERT INTO outreach.events (source, id, type, time, body) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING""",
        [(e.source, e.id, e.type, e.time, serialize_event(e).decode()) for e in events],
    )


async def load_events(connection: asyncpg.Connection) -> list[Event[EventData]]:
    rows = await connection.fetch("SELECT body FROM outreach.events ORDER BY time, source, id")
    return [parse_event(json.loads(row["body"])) for row in rows]


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
