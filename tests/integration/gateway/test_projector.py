"""The projector's read models in PostgreSQL (issue 12, parts 1 and 4).

They run in a database of their own whose default collation is ICU's (where "/systems/hr"
sorts before "/systems/HR", unlike Python): the registry must still follow the stamp order of
`mingdeng.contracts.registry`, strings compared by code point."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.derived import Contribution, EventStatus, Task
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.registry import Registry, Stamp
from mingdeng.contracts.topics import EVENT_STATUS, EVENTS, TASKS, Topic
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.projector import PROJECTION_TABLES, Projector, forget_projections
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.projection import Record, store_offsets
from mingdeng.runtime.settings import KafkaSettings
from tests.integration.gateway.conftest import DEFAULT_AGENCY_READS

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings(bootstrap_servers="unused:9092")
START = datetime(2026, 8, 1, 9, tzinfo=BUSINESS_TZ)
MOMENTS = [START + timedelta(hours=n) for n in range(3)]  # few moments: many ties
SOURCES = ["/systems/hr", "/systems/HR", "/systems/oa"]  # ICU and code points disagree
IDS = [f"{letter}{n}" for letter in "aAbB" for n in range(10)]
MEMBERS, DEPARTMENTS, BRANCHES = ["m1", "m2", "m3"], ["d1", "d2"], ["b1", "b2"]


@pytest.fixture(scope="module")
async def dsn(database_url: str) -> AsyncIterator[str]:
    name = f"mingdeng_projector_{random.getrandbits(40):x}"
    admin = await asyncpg.connect(database_url)
    try:
        try:
            await admin.execute(
                f"""CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'
                    LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'"""
            )
        except asyncpg.PostgresError:  # a server without ICU: its default collation then
            await admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        parts = urlsplit(database_url)
        url = urlunsplit(parts._replace(path=f"/{name}"))
        await migrate(url, "runtime", "mingdeng.runtime.sql")
        await migrate(url, "gateway", "mingdeng.gateway.adapters.sql")
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def connection(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn, server_settings=DEFAULT_AGENCY_READS)
    try:
        yield connection
    finally:
        await connection.close()


def records(topic: Topic, values: Sequence[bytes]) -> list[Record]:
    """Inbound events keyed by their subject, as publishers do; other records by a key of their
    own (on a compacted topic, a later value of a key replaces the earlier ones)."""
    return [
        Record(KAFKA.topic(topic), 0, n, _key(topic, value, n), value, 0)
        for n, value in enumerate(values)
    ]


def _key(topic: Topic, value: bytes, n: int) -> bytes:
    return json.loads(value)["subject"].encode() if topic == EVENTS else f"k{n}".encode()


async def project(connection: asyncpg.Connection, batch: Sequence[Record]) -> None:
    async with connection.transaction():  # as ProjectionRunner does, with the offsets
        await Projector(KAFKA).handle(connection, batch)


# --- the registry in stamp order -------------------------------------------------------------


def registry_history(rng: random.Random) -> list[Event[EventData]]:
    payloads = [
        lambda: ev.MemberRegistered(
            member_id=rng.choice(MEMBERS),
            name=rng.choice(["甲", "乙"]),
            department_id=rng.choice(DEPARTMENTS),
            roles=rng.choice([("member",), ("secretary",)]),
            party_member=rng.random() < 0.5,
        ),
        lambda: ev.MemberLeft(member_id=rng.choice(MEMBERS)),
        lambda: ev.DepartmentRegistered(
            department_id=rng.choice(DEPARTMENTS),
            name=rng.choice(["预算科", "财务科"]),
            branch_id=rng.choice(BRANCHES),
            leader_id=rng.choice(["L1", "L2"]),
        ),
        lambda: ev.BranchRegistered(
            branch_id=rng.choice(BRANCHES), name=rng.choice(["一支部", "二支部"])
        ),
    ]
    return [
        new_event(
            rng.choice(payloads)(),
            source=rng.choice(SOURCES),
            time=rng.choice(MOMENTS),
            event_id=event_id,
        )
        for event_id in rng.sample(IDS, rng.randint(1, 16))
    ]


def folded(history: list[Event[EventData]]) -> dict[str, Any]:
    registry = Registry()
    for event in history:
        registry.apply(Stamp.of(event), event.data)
    return {
        "branches": {b: registry.branch(b).name for b in registry.branches},  # type: ignore[union-attr]
        "departments": {
            d: (x.name, x.branch_id, x.leader_id)
            for d in registry.departments
            if (x := registry.department(d))
        },
        "registered": {
            m: (x.name, x.department_id, list(x.roles), x.party_member)
            for m in registry.members
            if (x := registry.member(m))
        },
        "active": sorted(m.member_id for m in registry.active_members()),
    }


async def stored(connection: asyncpg.Connection) -> dict[str, Any]:
    branches = await connection.fetch("SELECT branch_id, name FROM gateway.branches")
    departments = await connection.fetch("SELECT * FROM gateway.departments")
    members = await connection.fetch(
        "SELECT * FROM gateway.members WHERE registered_at > '-infinity'"
    )
    active = await connection.fetch("SELECT member_id FROM gateway.active_members")
    return {
        "branches": {r["branch_id"]: r["name"] for r in branches},
        "departments": {
            r["department_id"]: (r["name"], r["branch_id"], r["leader_id"]) for r in departments
        },
        "registered": {
            r["member_id"]: (r["name"], r["department_id"], r["roles"], r["party_member"])
            for r in members
        },
        "active": sorted(r["member_id"] for r in active),
    }


async def test_the_database_orders_text_unlike_python(connection: asyncpg.Connection) -> None:
    """Else the next test would not tell a collation-dependent comparison apart."""
    provider = await connection.fetchval(
        "SELECT datlocprovider::text FROM pg_database WHERE datname = current_database()"
    )
    if provider != "i":
        pytest.skip("this PostgreSQL has no ICU")
    assert SOURCES[1] < SOURCES[0]
    assert await connection.fetchval("SELECT $1::text < $2::text", SOURCES[0], SOURCES[1])


async def test_the_registry_is_ordered_by_stamp_as_the_python_fold_in_any_order(
    connection: asyncpg.Connection,
) -> None:
    rng = random.Random(12)
    for _ in range(60):
        history = registry_history(rng)
        expected = folded(history)
        await connection.execute("TRUNCATE gateway.branches, gateway.departments, gateway.members")
        shuffled = rng.sample(history, len(history))
        ends = rng.sample(range(1, len(shuffled)), rng.randint(0, len(shuffled) - 1))
        cuts = [*sorted(ends), len(shuffled)]
        start = 0
        for cut in cuts:  # in batches of random sizes, each a transaction
            batch = records(EVENTS, [serialize_event(e) for e in shuffled[start:cut]])
            await project(connection, batch)
            start = cut
        assert await stored(connection) == expected, [
            (e.time.hour, e.source, e.id, e.data) for e in history
        ]
        await project(connection, records(EVENTS, [serialize_event(e) for e in history]))
        assert await stored(connection) == expected  # a redelivery changes nothing
        org = await repository.org(connection)
        assert sorted(org.member_department) == expected["active"]


async def test_a_departure_on_the_same_time_as_the_registration_is_ordered_by_source_and_id(
    connection: asyncpg.Connection,
) -> None:
    await connection.execute("TRUNCATE gateway.branches, gateway.departments, gateway.members")
    member = ev.MemberRegistered(
        member_id="m9", name="王芳", department_id="d1", roles=("member",), party_member=True
    )
    left = ev.MemberLeft(member_id="m9")
    at = MOMENTS[0]
    history = [
        new_event(member, source="/systems/hr", time=at, event_id="e1"),
        new_event(left, source="/systems/HR", time=at, event_id="e2"),  # earlier: code points
    ]
    await project(connection, records(EVENTS, [serialize_event(e) for e in history]))
    assert (await stored(connection))["active"] == ["m9"]
    later = new_event(left, source="/systems/hr", time=at, event_id="e3")  # "e3" > "e1"
    await project(connection, records(EVENTS, [serialize_event(later)]))
    assert (await stored(connection))["active"] == []


# --- a rebuild -------------------------------------------------------------------------------


async def test_forgetting_the_projections_empties_every_read_model_and_the_offsets(
    connection: asyncpg.Connection,
) -> None:
    at = MOMENTS[0]
    consumer = "forget-test"
    member = ev.MemberRegistered(
        member_id="m1", name="王芳", department_id="d1", roles=("member",), party_member=True
    )
    status = EventStatus(
        source="/systems/hr",
        id="e1",
        type="mingdeng.volunteer.logged.v2",
        status="applied",
        detail="new",
        counts_for=[Contribution(quarter="2026Q3", level="member", id="m1", component="v")],
        at=at,
    )
    task = Task(
        task_id="t1",
        kind="talk",
        assignee_id="m2",
        member_id="m1",
        cause="v1",
        status="open",
        due=at,
        created_at=at,
    )
    batch = [
        *records(EVENTS, [serialize_event(new_event(member, source="/s", time=at))]),
        *records(EVENT_STATUS, [status.to_json()]),
        *records(TASKS, [task.to_json(), b"not a task"]),
    ]
    async with connection.transaction():
        await Projector(KAFKA).handle(connection, batch)
        await store_offsets(connection, consumer, batch)
    await connection.execute(
        "INSERT INTO gateway.accepted_events (source, id, type) VALUES ('/s', 'kept', 't')"
    )
    counts = {
        t: await connection.fetchval(f"SELECT count(*) FROM gateway.{t}") for t in PROJECTION_TABLES
    }
    assert {t for t, n in counts.items() if n} == {
        "members",
        "event_status",
        "contributions",
        "tasks",
        "dead_letters",
    }
    version = await connection.fetchval("SELECT version FROM gateway.registry_version")

    await forget_projections(connection, consumer)

    for table in PROJECTION_TABLES:
        assert await connection.fetchval(f"SELECT count(*) FROM gateway.{table}") == 0, table
    assert (
        await connection.fetchval(
            "SELECT count(*) FROM public.consumer_offsets WHERE consumer = $1", consumer
        )
        == 0
    )
    assert await connection.fetchval("SELECT version FROM gateway.registry_version") > version
    assert (
        await connection.fetchval("SELECT count(*) FROM gateway.accepted_events WHERE id = 'kept'")
        == 1
    )
