from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS
from mingdeng.notify.adapters.providers import LocalSink, ProviderChain, SmsProvider
from mingdeng.notify.adapters.store import PostgresStore, PostgresStores
from mingdeng.notify.adapters.templates import load_templates
from mingdeng.notify.domain.delivery import Limit
from mingdeng.notify.service import NotifyService
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import ProjectionRunner, Record
from mingdeng.runtime.settings import KafkaSettings

LIMITS = [
    Limit(timedelta(minutes=1), 1),
    Limit(timedelta(hours=1), 5),
    Limit(timedelta(days=1), 10),
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def notify_db(database_url: str, unique: str) -> AsyncIterator[str]:
    """A database of its own, migrated like `mingdeng-notify prestart` does."""
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "notify_{unique}"')
    await admin.close()
    dsn = database_url.rsplit("/", 1)[0] + f"/notify_{unique}"
    await migrate(dsn, "runtime", "mingdeng.runtime.sql")
    await migrate(dsn, "notify", "mingdeng.notify.adapters.sql")
    yield dsn


@pytest.fixture
def sink(tmp_path: Path) -> LocalSink:
    return LocalSink(tmp_path / "sms.jsonl")


@pytest.fixture
def make_service(kafka: KafkaSettings, sink: LocalSink) -> Callable[..., NotifyService]:
    def make(
        pool: asyncpg.Pool, clock: Clock, provider: SmsProvider | None = None, **options: object
    ) -> NotifyService:
        return NotifyService(
            stores=PostgresStores(pool), templates=load_templates(),
            providers=ProviderChain([provider or sink]), limits=LIMITS, clock=clock,
            topic_name=kafka.topic, **options,  # type: ignore[arg-type]
        )  # fmt: skip

    return make


def publish(kafka: KafkaSettings, events: list[Event[EventData]]) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    for event in events:
        producer.send(kafka.topic(EVENTS), key=event.subject.encode(), value=serialize_event(event))
    producer.flush()
    producer.close()


async def take_in(
    service: NotifyService, pool: asyncpg.Pool, kafka: KafkaSettings, count: int
) -> None:
    """Run the intake until `count` records have been handled."""

    async def handle(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await service.intake.handle(PostgresStore(connection), records)

    runner = ProjectionRunner(consumer=kafka.group("mingdeng-notify"), topics=service.intake.topic_names,
                              bootstrap_servers=kafka.bootstrap_servers, pool=pool, handler=handle)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(30):
            while runner.processed < count:  # noqa: ASYNC110 - polls another task's progress
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
