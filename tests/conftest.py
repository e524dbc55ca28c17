"""Fixtures for the real broker and database.

`make test` starts both and exports their addresses. Run by hand without them, integration
tests are skipped; under CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from mingdeng.runtime.settings import KafkaSettings

IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str) -> None:
    message = f"{what} is not available; `make test` starts it"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    from mingdeng.runtime.health import kafka_answers

    servers = os.environ.get("MINGDENG_KAFKA_BOOTSTRAP_SERVERS")
    if not servers or not asyncio.run(kafka_answers(servers, timeout_s=5)):
        _unavailable("Kafka")
    assert servers
    return servers


@pytest.fixture(scope="session")
def database_url() -> str:
    from mingdeng.runtime.health import postgres_answers

    dsn = os.environ.get("MINGDENG_DATABASE_URL")
    if not dsn or not asyncio.run(postgres_answers(dsn, timeout_s=5)):
        _unavailable("PostgreSQL")
    assert dsn
    return dsn


@pytest.fixture
def kafka(kafka_bootstrap: str, unique: str) -> KafkaSettings:
    """Topics of the test's own on the real broker."""
    from mingdeng.runtime.topics_admin import ensure_topics

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"it-{unique}.")
    ensure_topics(settings)
    return settings


@pytest.fixture
def unique() -> Iterator[str]:
    """A short random tag so tests on the shared broker and database never collide."""
    yield uuid.uuid4().hex[:10]


@pytest.fixture
async def pg_pool(database_url: str) -> AsyncIterator[object]:
    import asyncpg

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
