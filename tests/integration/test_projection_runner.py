"""Rows and offsets commit in one transaction: a restart after a crash neither loses nor repeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
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

    crash = {"armed": True, "wrote": False}

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await connection.executemany(
            f"INSERT INTO {table} VALUES ($1)", [(r.value.decode(),) for r in records if r.value]
        )
        if crash["armed"]:
            crash["wrote"] = True
            await asyncio.Event().wait()  # the process dies here, after writing rows

    def runner() -> ProjectionRunner:
        return ProjectionRunner(
            consumer=f"test-{unique}",
            topics=[topic],
            bootstrap_servers=kafka_bootstrap,
            pool=pg_pool,
            handler=handler,
        )

    crashing = asyncio.create_task(runner().run(asyncio.Event()))
    async with asyncio.timeout(30):
        while not crash["wrote"]:  # noqa: ASYNC110 - polls another task's progress
            await asyncio.sleep(0.05)
    crashing.cancel()  # a crash before the commit
    await asyncio.gather(crashing, return_exceptions=True)
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM public.consumer_offsets"
            " WHERE consumer = $1 AND next_offset IS NOT NULL",  # claimed, nothing stored
            f"test-{unique}",
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


async def test_a_database_outage_is_waited_out_and_a_poison_record_is_parked_byte_for_byte(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, table, consumer = f"test.poison.{unique}", f"poison_{unique}", f"test-{unique}"
    make_topic(kafka_bootstrap, topic, partitions=1)
    await pg_pool.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")
    poison = b"bad\x00\xff" + b"[" * 5000
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for value in [b"e0", b"e1", poison, b"e3", b"e4"]:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    outages = {"left": 3}

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        if outages["left"]:
            outages["left"] -= 1
            raise ConnectionRefusedError("the database is restarting")
        for record in records:
            assert record.value is not None
            # a NUL cannot be stored in text: the storage refuses the poison record
            await connection.execute(
                f"INSERT INTO {table} VALUES ($1)", record.value.decode("latin-1")
            )

    reloads = []

    async def reload(connection: asyncpg.Connection) -> None:
        reloads.append(await connection.fetchval(f"SELECT count(*) FROM {table}"))

    runner = ProjectionRunner(
        consumer=consumer, topics=[topic], bootstrap_servers=kafka_bootstrap, pool=pg_pool,
        handler=handler, reload=reload, retry_delay_s=0.05,
    )  # fmt: skip
    await run_until(runner, lambda: runner.processed >= 4 and runner.caught_up.is_set())
    rows = await pg_pool.fetch(f"SELECT value FROM {table} ORDER BY value")
    assert [r["value"] for r in rows] == ["e0", "e1", "e3", "e4"]
    parked = await pg_pool.fetch(
        'SELECT "offset", value, reason FROM public.parked_records WHERE consumer = $1', consumer
    )
    assert [(p["offset"], p["value"], p["reason"]) for p in parked] == [
        (2, poison, "CharacterNotInRepertoireError")
    ]
    assert runner.parked == {"CharacterNotInRepertoireError": 1}
    assert runner.lag == {TopicPartition(topic, 0): 0}
    assert reloads[:3] == [0, 0, 0]  # after each rolled-back attempt, before the next
    offsets = await pg_pool.fetchval(
        "SELECT next_offset FROM public.consumer_offsets WHERE consumer = $1", consumer
    )
    assert offsets == 5


async def test_a_rebalance_while_a_batch_is_applied_applies_no_record_twice(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, table = f"test.rebalance.{unique}", f"rebalanced_{unique}"
    make_topic(kafka_bootstrap, topic, partitions=1)
    await pg_pool.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")
    produce(kafka_bootstrap, topic, [f"e{i}" for i in range(5)])
    partition = TopicPartition(topic, 0)
    seeks: list[asyncio.Task[None]] = []

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        if not seeks:  # an assignment arrives in the middle of the first batch
            seeks.append(asyncio.create_task(runner.seek_to_stored([partition])))
            await asyncio.sleep(0.3)
        await connection.executemany(
            f"INSERT INTO {table} VALUES ($1)", [(r.value.decode(),) for r in records if r.value]
        )

    runner = ProjectionRunner(
        consumer=f"test-{unique}", topics=[topic], bootstrap_servers=kafka_bootstrap,
        pool=pg_pool, handler=handler,
    )  # fmt: skip
    await run_until(runner, lambda: runner.processed >= 5 and runner.caught_up.is_set())
    await asyncio.sleep(1)  # a record applied twice would be parked for its duplicate key
    assert seeks and seeks[0].done()
    assert runner.processed == 5 and not runner.parked
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 5


async def test_a_staged_handler_reads_the_next_batch_while_one_commits_and_commits_in_order(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, table, consumer = f"test.staged.{unique}", f"staged_{unique}", f"test-{unique}"
    make_topic(kafka_bootstrap, topic, partitions=1)
    await pg_pool.execute(f"CREATE TABLE {table} (seq bigserial, value text PRIMARY KEY)")
    values = [f"e{i}" for i in range(12)]
    values[5] = "unreadable"
    produce(kafka_bootstrap, topic, values)
    steps: list[tuple[str, int]] = []  # (what, first offset of the batch)
    prepared = {4: asyncio.Event(), 8: asyncio.Event()}  # the batches taken after 0 and 4

    class Staged:
        async def prepare(self, records: Sequence[Record]) -> list[str]:
            steps.append(("prepare", records[0].offset))
            if records[0].offset in prepared:
                prepared[records[0].offset].set()
            if any(r.value == b"unreadable" for r in records):
                raise ValueError("cannot read it")
            return [r.value.decode() for r in records if r.value]

        async def write(self, connection: asyncpg.Connection, values: list[str]) -> None:
            steps.append(("write", int(values[0][1:])))
            await connection.executemany(
                f"INSERT INTO {table} (value) VALUES ($1)", [(v,) for v in values]
            )
            first = int(values[0][1:])
            if first + 4 in prepared:  # the next batch is read while this one is written,
                # when the broker has given it already (under load a fetch can bring it later)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(prepared[first + 4].wait(), 2)
            steps.append(("written", first))

    runner = ProjectionRunner(
        consumer=consumer, topics=[topic], bootstrap_servers=kafka_bootstrap, pool=pg_pool,
        handler=Staged(), max_batch=4,
    )  # fmt: skip
    await run_until(runner, lambda: runner.processed >= 11 and runner.caught_up.is_set())
    rows = await pg_pool.fetch(f"SELECT value FROM {table} ORDER BY seq")
    assert [r["value"] for r in rows] == [v for v in values if v != "unreadable"]
    parked = await pg_pool.fetch(
        'SELECT "offset", reason FROM public.parked_records WHERE consumer = $1', consumer
    )
    assert [(p["offset"], p["reason"]) for p in parked] == [(5, "ValueError")]
    assert (
        await pg_pool.fetchval(
            "SELECT next_offset FROM public.consumer_offsets WHERE consumer = $1", consumer
        )
        == 12
    )
    # a batch was read while the one before was being written
    assert steps.index(("prepare", 4)) < steps.index(("written", 0)) or steps.index(
        ("prepare", 8)
    ) < steps.index(("written", 4))
    writes = [first for what, first in steps if what == "write"]
    assert writes == sorted(writes)  # one batch after the other, in the order taken


async def test_caught_up_under_steady_traffic_once_the_log_as_it_stood_at_the_start_is_read(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    """A poll never finds nothing while a producer keeps publishing; caught up must still come,
    once the backlog the runner started with is read (issue 27: the notifier's schedules and
    their wait)."""
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic = f"test.steady.{unique}"
    make_topic(kafka_bootstrap, topic, partitions=2)
    backlog = 1_000
    produce(kafka_bootstrap, topic, [f"b{i}" for i in range(backlog)])

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await asyncio.sleep(0.02)  # a batch takes a while: records wait for every poll

    runner = ProjectionRunner(
        consumer=f"test-{unique}", topics=[topic], bootstrap_servers=kafka_bootstrap,
        pool=pg_pool, handler=handler, max_batch=50,
    )  # fmt: skip
    producing = asyncio.Event()

    async def steady_traffic() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            n = 0
            while not producing.is_set():
                await producer.send(topic, f"s{n}".encode(), key=f"s{n}".encode())
                n += 1
                await asyncio.sleep(0.005)  # about 200 records a second
        finally:
            await producer.stop()

    traffic = asyncio.create_task(steady_traffic())
    try:
        await run_until(runner, runner.caught_up.is_set, timeout_s=60)
        assert runner.processed >= backlog - 2 * 50  # the backlog, but for the batch in flight
    finally:
        producing.set()
        await traffic


async def test_a_table_that_grows_fast_is_analyzed_before_autovacuum_would(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    """A read model that goes from empty to thousands of rows within autovacuum's minute gets
    planner statistics from its runner (`runtime.statistics`)."""
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, schema, consumer = f"test.grows.{unique}", f"grows_{unique}", f"test-{unique}"
    make_topic(kafka_bootstrap, topic, partitions=1)
    await pg_pool.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.rows (value text)")
    await pg_pool.execute(f"ALTER TABLE {schema}.rows SET (autovacuum_enabled = false)")
    produce(kafka_bootstrap, topic, [f"e{i}" for i in range(6_000)])

    async def handler(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await connection.executemany(
            f"INSERT INTO {schema}.rows VALUES ($1)",
            [(r.value.decode(),) for r in records if r.value],
        )

    runner = ProjectionRunner(
        consumer=consumer, topics=[topic], bootstrap_servers=kafka_bootstrap, pool=pg_pool,
        handler=handler, schemas=[schema],
    )  # fmt: skip

    async def feed() -> None:  # a record now and then: the runner looks after a commit
        while True:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(produce, kafka_bootstrap, topic, ["more"])

    feeding = asyncio.create_task(feed())
    try:
        await run_until(runner, lambda: runner.statistics.analyzed > 0)
    finally:
        feeding.cancel()
    assert runner.processed >= 6_000
    assert await pg_pool.fetchval(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = $1", schema
    )
    plan = await pg_pool.fetchval(f"EXPLAIN (FORMAT JSON) SELECT * FROM {schema}.rows")
    assert json.loads(plan)[0]["Plan"]["Plan Rows"] > 5_000
