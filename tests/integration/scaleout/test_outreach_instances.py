"""Outreach as several instances in one group (issue 26 item 4, ADR 0005): while instances
join and one crashes mid-burst, every event is kept once, and the views the holders of the
agencies publish equal those one outreach computes from the same events."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS
from mingdeng.outreach.domain.state import READS
from mingdeng.outreach.service import EVENT_TABLE, OutreachService
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import ProjectionRunner
from mingdeng.runtime.settings import KafkaSettings
from tests.support.builders import Events, at
from tests.unit.outreach.scenario import bureau_events

NOW = "2026-10-01 12:00"


def history(agency: str, unique: str) -> list[Event[EventData]]:
    """A bureau's events and 250 household visits more."""
    e = (
        Events(source=f"/systems/{unique}", prefix=f"{unique}-")
        if agency == "default"
        else Events(agency=agency)
    )
    start = at("2026-07-01 10:00")
    visits = [
        e.household_visit(member, household, (start + timedelta(hours=7 * n)).strftime("%Y-%m-%d %H:%M"))
        for n in range(250)
        for member, household in [(("M1", "h1"), ("M2", "h3"), ("M1", "h2"))[n % 3]]
    ]  # fmt: skip
    return [*bureau_events(e), *visits]


def produce(bootstrap: str, topic: str, events: list[Event[EventData]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for n, event in enumerate(events):  # the default agency keyed by subject, as before agencies
        key = event.subject if event.of_default_agency else event.agency
        producer.send(topic, key=key.encode(), value=serialize_event(event))
        if n % 100 == 99:
            producer.flush()
            time.sleep(0.1)
    producer.flush()
    producer.close()


async def test_outreach_instances_joining_and_crashing_publish_the_views_of_one(
    kafka: KafkaSettings, database_url: str, pg_pool: asyncpg.Pool, unique: str
) -> None:
    await migrate(database_url, "runtime", "mingdeng.runtime.sql")
    await migrate(database_url, "outreach", "mingdeng.outreach.adapters.sql")
    agencies = ["default", f"a{unique}", f"b{unique}", f"c{unique}"]
    histories = [history(agency, unique) for agency in agencies]
    events = [event for step in zip(*histories, strict=True) for event in step]  # interleaved
    read = sum(type(event.data) in READS for event in events)  # what outreach keeps
    topic = kafka.topic(EVENTS)
    clock = lambda: at(NOW)  # noqa: E731
    running: dict[str, tuple[ProjectionRunner, OutreachService, asyncio.Task[None]]] = {}
    stops: list[asyncio.Event] = []

    def start(name: str) -> None:
        service = OutreachService(clock=clock)
        runner = ProjectionRunner(
            consumer=f"outreach-{unique}", topics=[topic], bootstrap_servers=kafka.bootstrap_servers,
            pool=pg_pool, handler=service.handle, keeper=service, home_topic=topic, max_batch=100,
        )  # fmt: skip
        stops.append(stop := asyncio.Event())
        running[name] = (runner, service, asyncio.create_task(runner.run(stop)))

    async def kept() -> int:
        return await pg_pool.fetchval(
            f"SELECT count(*) FROM {EVENT_TABLE} WHERE agency = ANY($1::text[])"
            " AND (agency <> 'default' OR source = $2)",
            agencies, f"/systems/{unique}",
        )  # fmt: skip

    producing = asyncio.create_task(
        asyncio.to_thread(produce, kafka.bootstrap_servers, topic, events)
    )
    try:
        start("a")
        await asyncio.sleep(2)
        start("b")
        await asyncio.sleep(2)
        running["a"][2].cancel()  # crashes mid-burst
        await asyncio.gather(running.pop("a")[2], return_exceptions=True)
        start("c")
        await producing
        async with asyncio.timeout(90):
            while await kept() < read:  # noqa: ASYNC110 - polls the consumers' progress
                await asyncio.sleep(0.2)
            while await pg_pool.fetchval(  # noqa: ASYNC110
                "SELECT count(*) FROM public.forwarded_records WHERE consumer = $1",
                f"outreach-{unique}",
            ):
                await asyncio.sleep(0.2)
            while not all(  # noqa: ASYNC110 - the group settled: each agency held
                any(runner.holds(agency) for runner, _, _ in running.values())
                for agency in agencies
            ):
                await asyncio.sleep(0.2)
        published: dict[tuple[str, str], bytes] = {}
        for runner, service, _ in running.values():
            for publication in await service.refresh(holds=runner.holds):
                assert (publication.agency, publication.key) not in published  # one publisher
                published[(publication.agency, publication.key)] = publication.body
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*(task for _, _, task in running.values()), return_exceptions=True)
    assert await kept() == read
    assert all(not runner.parked for runner, _, _ in running.values())
    one = OutreachService(clock=clock)
    async with pg_pool.acquire() as connection:
        await one.load(connection, lambda agency: agency in agencies)
    expected = {(p.agency, p.key): p.body for p in await one.refresh()}
    for agency in agencies:
        ours = {k: b for k, b in published.items() if k[0] == agency}
        assert ours == {k: b for k, b in expected.items() if k[0] == agency}, agency
        assert (agency, "coverage/2026Q3") in ours
