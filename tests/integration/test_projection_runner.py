"""Rows and offsets commit in one transaction: a restart after a crash neither loses nor repeats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import ProjectionRunner, Record


def make_topic(bootstrap: str, name: str, partitions: int = 2) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, partitions, 1)])
    admin.close()


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, key=value.encode(), value=value.encode())
    producer.flush()
    producer.close()


async def run_until(runner: ProjectionRunner, condition: object, timeout_s: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - polls another task's progress
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task


async def test_a_batch_that_fails_leaves_no_rows_and_no_offsets_and_is_applied_after_restart(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, table = f"test.projection.{unique}", f"seen_{unique}"
    make_topic(kafka_bootstrap, topic)
    await pg_pool.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")
    produce(kafka_bootstrap, topic, [f"e{i}" for i in range(20)])

    crash = {"armed": True}

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await connection.executemany(
            f"INSERT INTO {table} VALUES ($1)", [(r.value.decode(),) for r in records if r.value]
        )
        if crash["armed"]:
            raise RuntimeError("crash after writing rows, before commit")

    def runner() -> ProjectionRunner:
        return ProjectionRunner(
            consumer=f"test-{unique}",
            topics=[topic],
            bootstrap_servers=kafka_bootstrap,
            pool=pg_pool,
            handler=handler,
        )

    crashing = runner()
    try:
        await run_until(crashing, lambda: False, timeout_s=30)
        raise AssertionError("the handler's error must reach the caller")
    except RuntimeError as error:
        assert "crash after writing rows" in str(error)
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM public.consumer_offsets WHERE consumer = $1", f"test-{unique}"
        )
        == 0
    )

    crash["armed"] = False
    healthy = runner()
    await run_until(healthy, lambda: healthy.processed >= 20)
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 20

    produce(kafka_bootstrap, topic, ["e20"])
    again = runner()  # resumes from the stored offsets: only the new record is handled
    await run_until(again, lambda: again.processed >= 1)
    await asyncio.sleep(1)
    assert again.processed == 1
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 21
