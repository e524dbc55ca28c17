"""POST /v1/events: record (source, id) and publish to Kafka, answering only after the broker
acknowledged (idempotent producer, acks=all). The ledger insert and the publish share one
database transaction: if Kafka fails nothing is recorded, so the client's retry publishes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, QuarterClosed
from mingdeng.contracts.topics import BARRIER_HEADER, EVENTS
from mingdeng.runtime.settings import KafkaSettings


@dataclass(frozen=True)
class Accepted:
    accepted: list[str]
    duplicates: list[str]


class EventPublisher:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._topic = kafka.topic(EVENTS)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            client_id="mingdeng-gateway",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        self._closing = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def _send(self, event: Event[EventData]) -> list[asyncio.Future[object]]:
        """One record; a close as a barrier copy on every partition (see BARRIER_HEADER)."""
        key, value = event.subject.encode(), serialize_event(event)
        if not isinstance(event.data, QuarterClosed):
            return [await self._producer.send(self._topic, key=key, value=value)]
        async with self._closing:  # one close's copies at a time: barriers never cross
            partitions = sorted(await self._producer.partitions_for(self._topic))
            copies = [
                await self._producer.send(
                    self._topic, key=key, value=value, partition=p, headers=[(BARRIER_HEADER, b"1")]
                )
                for p in partitions
            ]
            await asyncio.gather(*copies)
        return copies

    async def accept(self, pool: asyncpg.Pool, events: Sequence[Event[EventData]]) -> Accepted:
        unique: dict[tuple[str, str], Event[EventData]] = {}
        for event in events:
            unique.setdefault(event.key, event)
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """INSERT INTO gateway.accepted_events (source, id, type)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                   ON CONFLICT DO NOTHING RETURNING source, id""",
                [e.source for e in unique.values()],
                [e.id for e in unique.values()],
                [e.type for e in unique.values()],
            )
            new = {(row["source"], row["id"]) for row in rows}
            sends = []
            for key, event in unique.items():
                if key in new:
                    sends += await self._send(event)
            await asyncio.gather(*sends)  # every record acknowledged by all in-sync replicas
        return Accepted(
            accepted=[e.id for e in events if e.key in new],
            duplicates=[e.id for e in events if e.key not in new],
        )
