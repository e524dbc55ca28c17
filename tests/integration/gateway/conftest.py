from __future__ import annotations

import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mingdeng.runtime.migrations import migrate

# a connection of the tests reads the default agency's read models (ADR 0003), as a request of
# the default agency does
DEFAULT_AGENCY_READS = {"search_path": "gateway"}


@pytest.fixture
async def gateway_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database of the test's own, with the gateway's tables, pointing at
    the default agency's read models."""
    name = f"mingdeng_gateway_{random.getrandbits(40):x}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(url, "runtime", "mingdeng.runtime.sql")
        await migrate(url, "gateway", "mingdeng.gateway.adapters.sql")
        connection = await asyncpg.connect(url, server_settings=DEFAULT_AGENCY_READS)
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
