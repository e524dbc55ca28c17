"""A service's store of inbound events: kept once per (source, id) with one statement a batch,
what was new returned in order, and folded back oldest first."""

from __future__ import annotations

import asyncpg

from mingdeng.outreach.adapters.store import events_in_order
from mingdeng.runtime import event_store
from tests.support.builders import Events


async def test_a_batch_is_kept_once_and_what_was_new_comes_back_in_order(
    pg_pool: asyncpg.Pool, unique: str
) -> None:
    table = f"public.events_{unique}"
    e = Events(prefix=f"{unique}-")
    first = [e.community_visit("m1", f"2026-07-0{n} 10:00") for n in (3, 1, 2)]
    later = e.community_visit("m2", "2026-07-04 10:00")
    async with pg_pool.acquire() as connection:
        await connection.execute(
            f"""CREATE TABLE {table} (source text NOT NULL, id text NOT NULL, type text NOT NULL,
                time timestamptz NOT NULL, body jsonb NOT NULL, PRIMARY KEY (source, id))"""
        )
        try:
            assert await event_store.keep(connection, table, first) == first
            # a redelivery, a new one and a second copy of it in the same batch
            again = [first[1], later, later, first[0]]
            assert await event_store.keep(connection, table, again) == [later]
            assert await event_store.keep(connection, table, []) == []
            folded = [
                event async for chunk in events_in_order(connection, table, 2) for event in chunk
            ]
            assert folded == [first[1], first[2], first[0], later]
            assert await event_store.load(connection, table) == folded
        finally:
            await connection.execute(f"DROP TABLE {table}")
