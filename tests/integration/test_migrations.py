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
