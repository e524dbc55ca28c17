"""A Kafka consumer whose effects and offsets commit together in PostgreSQL.

The handler writes its rows through the given connection; the runner adds the next offsets of
the batch in the same transaction. On start and on every rebalance it seeks to the stored
offsets, so a redelivered message changes nothing and a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


BatchHandler = Callable[[asyncpg.Connection, Sequence[Record]], Awaitable[None]]


async def stored_offsets(
    connection: asyncpg.Connection, consumer: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    rows = await connection.fetch(
        "SELECT topic, partition, next_offset FROM public.consumer_offsets WHERE consumer = $1",
        consumer,
    )
    known = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    return {tp: known[tp] for tp in partitions if tp in known}


async def store_offsets(
    connection: asyncpg.Connection, consumer: str, records: Sequence[Record]
) -> None:
    next_offsets: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
    await connection.executemany(
        """INSERT INTO public.consumer_offsets (consumer, topic, partition, next_offset)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (consumer, topic, partition)
           DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()""",
        [
            (consumer, topic, partition, offset)
            for (topic, partition), offset in next_offsets.items()
        ],
    )


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ProjectionRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._runner.seek_to_stored(list(assigned))


class ProjectionRunner:
    """Consume `topics` as group `consumer`, applying batches through `handler` transactionally."""

    def __init__(
        self,
        *,
        consumer: str,
        topics: Sequence[str],
        bootstrap_servers: str,
        pool: asyncpg.Pool,
        handler: BatchHandler,
        max_batch: int = 500,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.consumer_name = consumer
        self._topics = list(topics)
        self._pool = pool
        self._handler = handler
        self._max_batch = max_batch
        self._retry_delay_s = retry_delay_s
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=consumer,
            client_id=consumer,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self.processed = 0
        self.caught_up = asyncio.Event()  # set once a poll finds nothing new: the log is read

    async def seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        async with self._pool.acquire() as connection:
            offsets = await stored_offsets(connection, self.consumer_name, partitions)
        for partition in partitions:
            if partition in offsets:
                self._kafka.seek(partition, offsets[partition])
            else:
                await self._kafka.seek_to_beginning(partition)

    async def run(self, stop: asyncio.Event) -> None:
        await self._kafka.start()
        self._kafka.subscribe(self._topics, listener=_SeekToStoredOffsets(self))
        try:
            while not stop.is_set():
                batches = await self._kafka.getmany(timeout_ms=500, max_records=self._max_batch)
                records = [
                    Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                    for messages in batches.values()
                    for m in messages
                ]
                if records:
                    await self._apply(records, stop)
                elif self._kafka.assignment():
                    self.caught_up.set()
        finally:
            await self._kafka.stop()

    async def _apply(self, records: list[Record], stop: asyncio.Event) -> None:
        while True:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    await self._handler(connection, records)
                    await store_offsets(connection, self.consumer_name, records)
                self.processed += len(records)
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                log.exception("%s: database unavailable; retrying the batch", self.consumer_name)
                if stop.is_set():
                    raise
                await asyncio.sleep(self._retry_delay_s)
