"""Several instances of a projection consumer in one group (issue 26 item 4, ADR 0005): each
record has exactly one effect while instances join, crash and are fenced, and the state each
keeps in memory for the agencies it holds equals what was committed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import asyncpg
from aiokafka import TopicPartition
from kafka import KafkaProducer

from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import AgencyFilter, ProjectionRunner, Record, claim
from tests.integration.test_projection_runner import make_topic

AGENCIES = [f"a{n}" for n in range(6)]


class CountingKeeper:
    """Keeps a row per record (a second effect of one record would be a duplicate key, and
    parked) and, in memory, how many records of each agency it holds it applied."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.counts: Counter[str] = Counter()

    def agency_of(self, record: Record) -> str:
        assert record.value is not None
        return record.value.decode().split("|")[0]

    def drop(self, agencies: AgencyFilter) -> None:
        self.counts = Counter({a: n for a, n in self.counts.items() if not agencies(a)})

    async def load(self, connection: asyncpg.Connection, agencies: AgencyFilter) -> None:
        rows = await connection.fetch(f"SELECT agency, count(*) AS n FROM {self.table} GROUP BY 1")
        self.counts.update({r["agency"]: r["n"] for r in rows if agencies(r["agency"])})

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await connection.executemany(
            f'INSERT INTO {self.table} (topic, partition, "offset", agency) VALUES ($1, $2, $3, $4)',
            [(r.topic, r.partition, r.offset, self.agency_of(r)) for r in records],
        )
        for record in records:
            self.counts[self.agency_of(record)] += 1


def produce(bootstrap: str, topic: str, first: int, count: int) -> None:
    """Records of six agencies keyed by agency, and of the default agency keyed by subject (as
    before agencies: spread over every partition)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for n in range(first, first + count):
        agency = AGENCIES[(n // 3) % len(AGENCIES)] if n % 3 else "default"
        key = agency if agency != "default" else f"subject-{n}"
        producer.send(topic, key=key.encode(), value=f"{agency}|{n}".encode())
    producer.flush()
    producer.close()


async def _setup(database_url: str, pg_pool: asyncpg.Pool, kafka_bootstrap: str, unique: str):  # type: ignore[no-untyped-def]
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    topic, table = f"test.instances.{unique}", f"effects_{unique}"
    make_topic(kafka_bootstrap, topic, partitions=4)
    await pg_pool.execute(
        f'CREATE TABLE {table} (topic text, partition int, "offset" bigint, agency text,'
        ' PRIMARY KEY (topic, partition, "offset"))'
    )
    return topic, table


def _runner(
    unique: str, topic: str, kafka_bootstrap: str, pool: asyncpg.Pool, keeper: CountingKeeper
) -> ProjectionRunner:
    return ProjectionRunner(
        consumer=f"test-{unique}", topics=[topic], bootstrap_servers=kafka_bootstrap, pool=pool,
        handler=keeper.handle, keeper=keeper, home_topic=topic, max_batch=50,
    )  # fmt: skip


async def test_instances_joining_and_crashing_under_load_apply_every_record_once(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    topic, table = await _setup(database_url, pg_pool, kafka_bootstrap, unique)
    total = 3000
    stops: list[asyncio.Event] = []
    running: dict[str, tuple[ProjectionRunner, CountingKeeper, asyncio.Task[None]]] = {}

    def start(name: str) -> None:
        keeper = CountingKeeper(table)
        runner = _runner(unique, topic, kafka_bootstrap, pg_pool, keeper)
        stops.append(stop := asyncio.Event())
        running[name] = (runner, keeper, asyncio.create_task(runner.run(stop)))

    producing = asyncio.create_task(
        asyncio.to_thread(
            lambda: [produce(kafka_bootstrap, topic, n, 100) or __import__("time").sleep(0.15)
                     for n in range(0, total, 100)]
        )
    )  # fmt: skip
    try:
        start("a")
        await asyncio.sleep(2)
        start("b")  # joins under load
        await asyncio.sleep(2.5)
        running["a"][2].cancel()  # crashes mid-burst: its batch in flight rolls back
        await asyncio.gather(running.pop("a")[2], return_exceptions=True)
        start("c")  # joins after the crash
        await producing
        async with asyncio.timeout(60):
            while await pg_pool.fetchval(f"SELECT count(*) FROM {table}") < total:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            while await pg_pool.fetchval(  # noqa: ASYNC110 - the holders' forwarded records
                "SELECT count(*) FROM public.forwarded_records WHERE consumer = $1",
                f"test-{unique}",
            ):
                await asyncio.sleep(0.2)
            while not all(  # noqa: ASYNC110 - the group settled: each agency held
                any(runner.holds(agency) for runner, _, _ in running.values())
                for agency in [*AGENCIES, "default"]
            ):
                await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # anything applied twice would be parked by now
        held = {agency: name for name, (runner, _, _) in running.items()
                for agency in [*AGENCIES, "default"] if runner.holds(agency)}  # fmt: skip
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*(task for _, _, task in running.values()), return_exceptions=True)

    rows = await pg_pool.fetch(f"SELECT agency, count(*) AS n FROM {table} GROUP BY 1")
    committed = {r["agency"]: r["n"] for r in rows}
    assert sum(committed.values()) == total  # none lost (and the key refuses a second effect)
    assert not await pg_pool.fetchval(
        "SELECT count(*) FROM public.parked_records WHERE consumer = $1", f"test-{unique}"
    )
    assert all(not runner.parked for runner, _, _ in running.values())
    # each agency held by one instance, whose state equals what was committed
    assert set(held) == {*AGENCIES, "default"}
    assert set(held.values()) == {"b", "c"}
    for agency, name in held.items():
        assert running[name][1].counts[agency] == committed[agency], agency


async def test_an_instance_that_lost_its_partitions_while_applying_commits_nothing(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    """A zombie: its batch is being applied when another instance claims its partitions (as a
    paused process's are, once its session expires); its transaction is refused and rolls
    back, and the new holder applies the batch once."""
    topic, table = await _setup(database_url, pg_pool, kafka_bootstrap, unique)
    await asyncio.to_thread(produce, kafka_bootstrap, topic, 0, 60)
    keeper = CountingKeeper(table)
    applying, resume = asyncio.Event(), asyncio.Event()

    async def paused_handle(connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await keeper.handle(connection, records)
        applying.set()
        await resume.wait()

    zombie = ProjectionRunner(
        consumer=f"test-{unique}", topics=[topic], bootstrap_servers=kafka_bootstrap,
        pool=pg_pool, handler=paused_handle, keeper=keeper, home_topic=topic, max_batch=50,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(zombie.run(stop))
    try:
        async with asyncio.timeout(30):
            await applying.wait()
        async with pg_pool.acquire() as connection:  # the next holder's claim
            partitions = [TopicPartition(topic, p) for p in range(4)]
            await claim(connection, f"test-{unique}", partitions)
        resume.set()
        await asyncio.sleep(1)
        assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 0
        assert not any(zombie.holds(agency) for agency in [*AGENCIES, "default"])
        assert not keeper.counts  # what it held is forgotten
    finally:
        stop.set()
        await task
    healthy = CountingKeeper(table)
    runner = _runner(unique, topic, kafka_bootstrap, pg_pool, healthy)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(30):
            while await pg_pool.fetchval(f"SELECT count(*) FROM {table}") < 60:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 60
    assert sum(healthy.counts.values()) == 60 and not runner.parked


class SlowKeeper(CountingKeeper):
    """Folds only once `gate` is open: a history longer to fold than the group's session."""

    def __init__(self, table: str, gate: asyncio.Event) -> None:
        super().__init__(table)
        self.gate = gate

    async def load(self, connection: asyncpg.Connection, agencies: AgencyFilter) -> None:
        await self.gate.wait()
        await super().load(connection, agencies)


async def test_agencies_being_taken_over_are_held_once_folded_and_hold_up_no_rebalance(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    """The fold of the agencies an instance takes over runs outside the rebalance (the group
    does not wait for it, a revocation abandons it), and the instance holds them, so publishes
    and schedules for them, only once they are folded in full."""
    topic, table = await _setup(database_url, pg_pool, kafka_bootstrap, unique)
    await asyncio.to_thread(produce, kafka_bootstrap, topic, 0, 300)
    agencies = [*AGENCIES, "default"]
    gate = asyncio.Event()
    first, slow, third = CountingKeeper(table), SlowKeeper(table, gate), CountingKeeper(table)
    runners = [_runner(unique, topic, kafka_bootstrap, pg_pool, k) for k in (first, slow, third)]
    stops = [asyncio.Event() for _ in runners]
    tasks = [asyncio.create_task(runners[0].run(stops[0]))]
    try:
        async with asyncio.timeout(30):
            while not all(runners[0].holds(a) for a in agencies):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            while await pg_pool.fetchval(f"SELECT count(*) FROM {table}") < 300:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            tasks.append(asyncio.create_task(runners[1].run(stops[1])))
            while runners[0].holds("default") + sum(map(runners[0].holds, AGENCIES)) == 7:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # the rebalance gave the slow one partitions
        await asyncio.sleep(2)
        assert runners[1]._epochs, "the slow instance claimed its partitions"
        assert not any(runners[1].holds(a) for a in agencies)  # none folded yet
        tasks.append(asyncio.create_task(runners[2].run(stops[2])))  # its fold is abandoned
        async with asyncio.timeout(8):  # well within a session: the group waits for no fold
            while not any(runners[2].holds(a) for a in agencies):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        gate.set()
        async with asyncio.timeout(15):
            while not all(sum(r.holds(a) for r in runners) == 1 for a in agencies):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        committed = dict(await pg_pool.fetch(f"SELECT agency, count(*) FROM {table} GROUP BY 1"))
        for agency in agencies:
            holder = next(
                k for r, k in zip(runners, (first, slow, third), strict=True) if r.holds(agency)
            )
            assert holder.counts[agency] == committed[agency], agency
        assert await pg_pool.fetchval(f"SELECT count(*) FROM {table}") == 300
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
