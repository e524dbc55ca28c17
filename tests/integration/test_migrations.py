from __future__ import annotations

import asyncio

import asyncpg

from mingdeng.runtime.migrations import migrate


async def test_migrations_apply_once_even_when_started_concurrently(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    results = await asyncio.gather(
        *(migrate(database_url, "notify", "mingdeng.notify.adapters.sql") for _ in range(3))
    )
    applied = [versions for versions in results if versions]
    assert len(applied) <= 1
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM public.schema_migrations WHERE component = 'notify' AND version = 1"
        )
        == 1
    )
    assert await migrate(database_url, "notify", "mingdeng.notify.adapters.sql") == []
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'notify'"
        )
        == 1
    )


async def test_the_logs_of_events_are_analyzed_from_a_small_sample(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    """ANALYZE samples 300 rows times the largest statistics target of any column: one column
    left at the default makes it 30,000 rows again (an outreach log's ANALYZE 350 ms instead
    of ~15, issue 21)."""
    for component in ("outreach", "notify"):
        await migrate(database_url, component, f"mingdeng.{component}.adapters.sql")
    targets = await pg_pool.fetch(
        """SELECT attrelid::regclass::text AS log, attname, attstattarget FROM pg_attribute
           WHERE attrelid IN ('outreach.events'::regclass, 'notify.events'::regclass)
             AND attnum > 0 AND NOT attisdropped"""
    )
    too_large = [
        (t["log"], t["attname"], t["attstattarget"])
        for t in targets
        if not 0 <= t["attstattarget"] <= 10
    ]
    assert targets and too_large == []
