"""A service's own store of the inbound events it reads: once per (source, id), in the
transaction of the consumed offsets; at start the service folds its state from it. The table
(`<schema>.events`: source, id, type, time, body) is created by the service's migrations."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from mingdeng.contracts.codec import parse_event, serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData


async def keep(
    connection: asyncpg.Connection, table: str, events: Sequence[Event[EventData]]
) -> list[Event[EventData]]:
    """Store the events not stored yet; return those (a redelivery returns none)."""
    new = []
    for event in events:
        created = await connection.fetchval(
            f"""INSERT INTO {table} (source, id, type, time, body) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT DO NOTHING RETURNING true""",
            event.source,
            event.id,
            event.type,
            event.time,
            serialize_event(event).decode(),
        )
        if created:
            new.append(event)
    return new


async def load(connection: asyncpg.Connection, table: str) -> list[Event[EventData]]:
    rows = await connection.fetch(f"SELECT body FROM {table} ORDER BY time, source, id")
    return [parse_event(json.loads(row["body"])) for row in rows]
