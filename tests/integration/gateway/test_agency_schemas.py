"""Each agency's read models in a schema of its own (issue 25, ADR 0003), on the real database:
the projector writes agency B's records into B's schema only, the same member id in two
agencies stays two people, a connection pointing at no agency reads nothing, an agency's schema
has exactly the structure the default agency's tables have, and a database made by the
migrations before agencies keeps its history through the upgrade."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.derived import Task
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS, TASKS
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.agency_schemas import (
    AGENCY_MIGRATIONS,
    NO_AGENCY_SCHEMA,
    migrate_agency_schemas,
    schema_of,
)
from mingdeng.gateway.adapters.projector import (
    AGENCY_PROJECTION_TABLES,
    PROJECTOR_GROUP,
    Projector,
    forget_projections,
)
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.migrations import load_migrations, migrate
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings(bootstrap_servers="unused:9092")
AT = datetime(2026, 8, 3, 9, tzinfo=UTC)
GATEWAY = "mingdeng.gateway.adapters.sql"
LAST_BEFORE_AGENCY_SCHEMAS = 20  # 0020_agencies: what a deployment of issue 25 item 2 has


async def _database(database_url: str) -> tuple[asyncpg.Connection, str]:
    name = f"mingdeng_agencies_{random.getrandbits(40):x}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    return admin, database_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
async def dsn(database_url: str) -> AsyncIterator[str]:
    admin, url = await _database(database_url)
    try:
        await migrate(url, "runtime", "mingdeng.runtime.sql")
        await migrate(url, "gateway", GATEWAY)
        await migrate_agency_schemas(url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await admin.close()


def inbound(data: EventData, agency: str, n: int) -> Record:
    source = "/systems/hr" if agency == "default" else f"/agencies/{agency}/hr"
    event = new_event(data, source=source, time=AT, event_id=f"{agency}-{n}", agency=agency)
    return Record(KAFKA.topic(EVENTS), 0, n, agency.encode(), serialize_event(event), 0)


def task_record(agency: str, n: int, member_id: str) -> Record:
    task = Task(
        task_id="t1",  # the same task id in both agencies: two tasks
        kind="talk",
        assignee_id="m001",
        member_id=member_id,
        cause=f"{agency}-v1",
        status="open",
        due=AT,
        created_at=AT,
    )
    return Record(
        KAFKA.topic(TASKS),
        0,
        n,
        agency_key(agency, task.key),
        task.to_json(),
        0,
        agency_headers(agency),
    )


def same_ids_in(agency: str, name: str, phone: str, first: int) -> list[Record]:
    """One branch, one department and member m001 (with `name`) of `agency`."""
    return [
        inbound(ev.BranchRegistered(branch_id="b1", name=f"{name}的支部"), agency, first),
        inbound(
            ev.DepartmentRegistered(
                department_id="d1", name=f"{name}的科室", branch_id="b1", leader_id="m001"
            ),
            agency,
            first + 1,
        ),
        inbound(
            ev.MemberRegistered(
                member_id="m001",
                name=name,
                department_id="d1",
                phone=phone,
                roles=("member", "admin"),
                party_member=True,
            ),
            agency,
            first + 2,
        ),
    ]


async def project(dsn: str, records: list[Record]) -> None:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": NO_AGENCY_SCHEMA})
    try:
        async with connection.transaction():  # as ProjectionRunner does, with the offsets
            await Projector(KAFKA).handle(connection, records)
    finally:
        await connection.close()


async def reading(dsn: str, agency: str) -> asyncpg.Connection:
    """A connection pointing at `agency`, as the pool's `setup` points a request's."""
    return await asyncpg.connect(dsn, server_settings={"search_path": schema_of(agency)})


async def test_the_projector_writes_each_agency_s_records_into_its_own_schema_only(
    dsn: str,
) -> None:
    records = [
        *same_ids_in("default", "张三", "13800000001", 0),
        *same_ids_in("czj", "李四", "13800000002", 10),
        inbound(
            ev.AgencyRegistered(agency_id="rsj", name="人社局", committee_id="city"), "rsj", 20
        ),
        task_record("czj", 0, "m001"),
    ]
    await project(dsn, records)

    default, czj = await reading(dsn, "default"), await reading(dsn, "czj")
    try:
        assert await LoginNames.of(default) == [("m001", "张三")]
        assert await LoginNames.of(czj) == [("m001", "李四")]  # the same id: another person
        assert await default.fetchval("SELECT count(*) FROM tasks") == 0
        [task] = await czj.fetch("SELECT task_id, member_id FROM tasks")
        assert tuple(task) == ("t1", "m001")  # its key without `czj/`, as before agencies
        assert (await repository.org(czj)).department_leader == {"d1": "m001"}
        assert await czj.fetchval("SELECT version FROM registry_version") == 1
        schemas = await default.fetch(
            "SELECT agency_id, schema_name FROM gateway.agency_schemas ORDER BY agency_id"
        )
        assert [tuple(row) for row in schemas] == [
            ("czj", "agency_czj"),
            ("default", "gateway"),
            ("rsj", "agency_rsj"),  # registered, with no record of its own yet: ready
        ]
        phones = await default.fetch(
            "SELECT phone, agency_id, member_id FROM gateway.member_phones ORDER BY phone"
        )
        assert [tuple(row) for row in phones] == [
            ("13800000001", "default", "m001"),
            ("13800000002", "czj", "m001"),
        ]
        rsj = await reading(dsn, "rsj")
        try:
            assert await rsj.fetchval("SELECT count(*) FROM members") == 0
        finally:
            await rsj.close()
    finally:
        await default.close()
        await czj.close()


class LoginNames:
    @staticmethod
    async def of(connection: asyncpg.Connection) -> list[tuple[str, str]]:
        rows = await connection.fetch("SELECT member_id, name FROM active_members")
        return [(row["member_id"], row["name"]) for row in rows]


async def test_a_connection_pointing_at_no_agency_reads_nothing(dsn: str) -> None:
    await project(dsn, same_ids_in("default", "张三", "13800000001", 0))
    nowhere = await asyncpg.connect(dsn, server_settings={"search_path": NO_AGENCY_SCHEMA})
    try:
        for table in ("members", "scores", "tasks", "active_members"):
            with pytest.raises(asyncpg.UndefinedTableError):
                await nowhere.fetch(f"SELECT * FROM {table}")
    finally:
        await nowhere.close()


async def test_a_rebuild_empties_every_agency_s_read_models(dsn: str) -> None:
    await project(
        dsn,
        [
            *same_ids_in("default", "张三", "13800000001", 0),
            *same_ids_in("czj", "李四", "13800000002", 10),
        ],
    )
    connection = await asyncpg.connect(dsn)
    try:
        await forget_projections(connection, PROJECTOR_GROUP)
        for schema in ("gateway", "agency_czj"):
            assert await connection.fetchval(f"SELECT count(*) FROM {schema}.members") == 0
        assert await connection.fetchval("SELECT count(*) FROM gateway.member_phones") == 0
    finally:
        await connection.close()


STRUCTURE = """
    SELECT 'column', c.table_name || '.' || c.column_name || ' ' || c.data_type || ' '
           || c.is_nullable || ' ' || coalesce(c.column_default, '')
    FROM information_schema.columns c WHERE c.table_schema = $1 AND c.table_name = ANY($2)
    UNION ALL
    SELECT 'index', replace(indexdef, $1 || '.', '')
    FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2)
    UNION ALL
    SELECT 'constraint', conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = $1::regnamespace
      AND conrelid::regclass::text = ANY(SELECT $1 || '.' || unnest($2::text[]))
    UNION ALL
    SELECT 'statistics', attrelid::regclass::text || '.' || attname || ' ' || attstattarget
    FROM pg_attribute WHERE attnum > 0 AND NOT attisdropped AND attstattarget >= 0
      AND attrelid::regclass::text = ANY(SELECT $1 || '.' || unnest($2::text[]))"""


async def _structure(connection: asyncpg.Connection, schema: str) -> list[str]:
    tables = [*AGENCY_PROJECTION_TABLES, "registry_version", "active_members"]
    rows = await connection.fetch(STRUCTURE, schema, tables)
    return sorted(f"{kind} {text.replace(schema + '.', '')}" for kind, text in rows)


async def test_an_agency_s_schema_has_the_structure_of_the_default_agency_s_tables(
    dsn: str,
) -> None:
    await project(dsn, same_ids_in("czj", "李四", "13800000002", 0))
    connection = await asyncpg.connect(dsn)
    try:
        assert await _structure(connection, "agency_czj") == await _structure(connection, "gateway")
        assert len(await _structure(connection, "gateway")) > 200
    finally:
        await connection.close()


async def test_the_logs_of_events_are_analyzed_from_a_sample_without_their_json(
    dsn: str,
) -> None:
    """An ANALYZE of a log of 65,000 events took 300-750 ms with the default statistics
    (issue 21: most of PostgreSQL's time at 1,000 events/s), 12-16 ms so."""
    await project(dsn, same_ids_in("czj", "李四", "13800000002", 0))
    connection = await asyncpg.connect(dsn)
    try:
        for schema in ("gateway", "agency_czj"):
            targets = dict(
                await connection.fetch(
                    """SELECT attname, attstattarget FROM pg_attribute
                       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped""",
                    f"{schema}.event_facts",
                )
            )
            assert targets == {"source": 10, "id": 10, "type": 10, "time": 10, "data": 0}
    finally:
        await connection.close()


async def test_a_database_of_the_migrations_before_agencies_keeps_its_history(
    database_url: str,
) -> None:
    admin, url = await _database(database_url)
    try:
        await migrate(url, "runtime", "mingdeng.runtime.sql")
        connection = await asyncpg.connect(url)
        try:
            await _apply_up_to(connection, LAST_BEFORE_AGENCY_SCHEMAS)
        finally:
            await connection.close()
        await project_before(url, same_ids_in("default", "张三", "13800000001", 0))
        await migrate(url, "gateway", GATEWAY)  # the upgrade: 0021 onwards
        await project(url, same_ids_in("czj", "李四", "13800000002", 10))
        default = await reading(url, "default")
        try:
            assert await LoginNames.of(default) == [("m001", "张三")]  # the history stays
            assert (
                await default.fetchval(
                    "SELECT agency_id FROM gateway.member_phones WHERE phone = '13800000001'"
                )
                == "default"
            )
            done = await default.fetch(
                """SELECT component, max(version) FROM public.schema_migrations
                   WHERE component LIKE 'gateway/agency:%' GROUP BY component ORDER BY component"""
            )
            latest = max(m.version for m in load_migrations(AGENCY_MIGRATIONS))
            assert [tuple(row) for row in done] == [
                ("gateway/agency:agency_czj", latest),
                ("gateway/agency:gateway", 1),
            ]
        finally:
            await default.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
        await admin.close()


async def _apply_up_to(connection: asyncpg.Connection, last: int) -> None:
    """The gateway's migrations as a deployment before agency schemas applied them."""
    for migration in load_migrations(GATEWAY):
        if migration.version > last:
            break
        async with connection.transaction():
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO public.schema_migrations (component, version, name)"
                " VALUES ('gateway', $1, $2)",
                migration.version,
                migration.name,
            )


async def project_before(dsn: str, records: list[Record]) -> None:
    """The registry as the projector before agency schemas wrote it (qualified `gateway.`)."""
    connection = await asyncpg.connect(dsn)
    try:
        for record in records:
            document = json.loads(record.value or b"{}")
            if document["type"] == ev.MemberRegistered.event_type:
                data = document["data"]
                await connection.execute(
                    """INSERT INTO gateway.members (member_id, name, department_id, phone, roles,
                           party_member, registered_at, registered_source, registered_id)
                       VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8)""",
                    data["member_id"],
                    data["name"],
                    data["department_id"],
                    data["phone"],
                    list(data["roles"]),
                    AT,
                    document["source"],
                    document["id"],
                )
    finally:
        await connection.close()
