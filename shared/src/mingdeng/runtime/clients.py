"""Every Kafka client and PostgreSQL pool of the platform, made here, one way.

aiokafka has no reconnect back-off: a client whose broker is away tries to connect again at
every turn of its loops, every `retry_backoff_ms` (10 ms for the transactional producers), and
logs each refusal (a gateway wrote 946,356 such lines in a 20-minute outage). Each client made
here waits before connecting again to a broker it just failed to reach: 0.25 s doubling to 5 s,
with jitter, back to nothing once a connection succeeds. Requests that find the broker there
are not slowed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient

from mingdeng.runtime.faults import Backoff

RECONNECT_FIRST_S = 0.25
RECONNECT_CEILING_S = 5.0
# aiokafka's default; the transactional producers ask for 10 ms (see the scoring worker)
RETRY_BACKOFF_MS = 100
# a connection attempt to PostgreSQL gives up after this (asyncpg's default is 60 s, which a
# frozen database turns into a minute's silence)
POSTGRES_CONNECT_TIMEOUT_S = 5.0

Connect = Callable[..., Awaitable[Any]]


class ReconnectBackoff:
    """Wraps an aiokafka client's connection step: after a failed connection to a node, the
    next attempt to it waits out a growing, jittered pause first."""

    def __init__(
        self,
        connect: Connect,
        first_s: float = RECONNECT_FIRST_S,
        ceiling_s: float = RECONNECT_CEILING_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._first_s, self._ceiling_s = first_s, ceiling_s
        self._clock = clock
        self._backoffs: dict[object, Backoff] = {}
        self._not_before: dict[object, float] = {}

    async def __call__(self, node_id: object, **options: Any) -> Any:
        wait = self._not_before.get(node_id, 0.0) - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        connection = await self._connect(node_id, **options)
        if connection is None:  # aiokafka logged why
            backoff = self._backoffs.setdefault(node_id, Backoff(self._first_s, self._ceiling_s))
            self._not_before[node_id] = self._clock() + backoff.next_delay()
        else:
            self._backoffs.pop(node_id, None)
            self._not_before.pop(node_id, None)
        return connection

    @classmethod
    def install(cls, client: AIOKafkaClient) -> None:
        # aiokafka's one way to a broker connection (pinned in uv.lock; a unit test checks
        # that the method is still there and still answers None when it cannot connect)
        client._get_conn = cls(client._get_conn)


def kafka_consumer(bootstrap_servers: str, **options: Any) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **{"retry_backoff_ms": RETRY_BACKOFF_MS, **options},
    )
    ReconnectBackoff.install(consumer._client)
    return consumer


def kafka_producer(bootstrap_servers: str, **options: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        **{"retry_backoff_ms": RETRY_BACKOFF_MS, **options},
    )
    ReconnectBackoff.install(producer.client)
    return producer


def kafka_admin(bootstrap_servers: str, **options: Any) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        **{"retry_backoff_ms": RETRY_BACKOFF_MS, **options},
    )
    ReconnectBackoff.install(admin._client)
    return admin


def postgres_pool(dsn: str, *, min_size: int, max_size: int, **options: Any) -> asyncpg.Pool:
    """A pool (await it, or `async with` it). A connection that breaks is replaced on the next
    acquire; the callers wait out an outage with their own back-off (`faults.retrying`, the
    projection runner)."""
    return asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        **{"timeout": POSTGRES_CONNECT_TIMEOUT_S, **options},
    )


async def postgres_connection(dsn: str, **options: Any) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, **{"timeout": POSTGRES_CONNECT_TIMEOUT_S, **options})
