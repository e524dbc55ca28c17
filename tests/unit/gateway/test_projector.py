"""Issue 12, part 4: the projector is a routing table, {topic: read model}, and each read model
owns its tables. Without infrastructure: a fake connection records the statements."""

from __future__ import annotations

import json
import re
import typing
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from mingdeng.contracts import topics
from mingdeng.contracts.derived import (
    DeadLetter,
    IndexScore,
    Notification,
    Task,
)
from mingdeng.contracts.events import PAYLOAD_TYPES
from mingdeng.contracts.upcasting import UPCASTERS
from mingdeng.gateway.adapters.projector import (
    CONSUMER,
    PROJECTED,
    PROJECTION_TABLES,
    ROUTES,
    Projector,
)
from mingdeng.gateway.adapters.read_cache import CHANGED_CHANNEL
from mingdeng.gateway.adapters.read_models import committee, dead_letters, inbound
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings
from tests.support.bindings import kafka_binary
from tests.support.samples import SAMPLE_DATA, cloudevent

KAFKA = KafkaSettings(bootstrap_servers="unused:9092", topic_prefix="t.")
NOT_READ_MODELS = {
    "accepted_events",
    "registry_version",
    "login_codes",
    "login_requests",
    "agency_schemas",
    "committee_admins",
}
# the ingestion ledger; a counter; the dashboard's login codes and requests (gateway/web/login.py);
# which agencies have a schema, and the 机关工委 admins (`mingdeng-gateway committee-admin`)
AT = datetime(2026, 11, 25, 10, tzinfo=UTC)
TABLE = re.compile(r"(?:INSERT INTO|DELETE FROM|UPDATE|TRUNCATE)\s+(?:gateway\.)?(\w+)")


class FakeConnection:
    """Records each statement: one call of execute, fetch or executemany is one round trip.
    The 机关工委's view (schema `committee`, every agency's records) apart, in `committee`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.committee: list[str] = []
        self.search_paths: list[str] = []  # the agencies' schemas written into, in order

    async def execute(self, sql: str, *args: Any) -> str:
        if "committee." in sql:
            self.committee.append(sql)
        elif sql.startswith("SET LOCAL search_path"):
            self.search_paths.append(sql.rsplit(" ", 1)[1])
        else:
            self.calls.append((sql, args))
        return ""

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.calls.append((sql, args))
        return []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.calls.append((sql, args))
        return True  # e.g. the newest record of a meeting holds

    async def executemany(self, sql: str, rows: list[Any]) -> None:
        self.calls.append((sql, (rows,)))

    def written(self) -> Counter[str]:
        """Statements per table written."""
        return Counter(m.group(1) for sql, _ in self.calls if (m := TABLE.search(sql)))

    def rows(self, table: str) -> list[Any]:
        return [
            row
            for sql, args in self.calls
            if (m := TABLE.search(sql)) and m.group(1) == table
            for row in args[0]
        ]

    def notified(self) -> list[str]:
        """The kinds of answers told changed, as `{agency}/{kind}` (read_cache)."""
        return [args[1] for sql, args in self.calls if args[:1] == (CHANGED_CHANNEL,)]


OWN = b"(a key of its own)"


class Log:
    def __init__(self) -> None:
        self.offsets: Counter[str] = Counter()

    def record(self, topic: topics.Topic, value: bytes | None, key: bytes | None = OWN) -> Record:
        """An inbound event is keyed by its subject, as publishers do; other records by `key`,
        or a key of their own (on a compacted topic, a later value of a key replaces it)."""
        name = KAFKA.topic(topic)
        offset = self.offsets[name]
        if topic == topics.EVENTS and value is not None and b'"subject"' in value:
            key = json.loads(value)["subject"].encode()
        self.offsets[name] += 1
        return Record(name, 0, offset, f"k{offset}".encode() if key is OWN else key, value, 0)


async def project(*records: Record) -> FakeConnection:
    connection = FakeConnection()
    await Projector(KAFKA).handle(connection, records)  # type: ignore[arg-type]
    return connection


def event(event_type: str, **data: Any) -> bytes:
    return json.dumps(cloudevent(event_type, SAMPLE_DATA[event_type] | data, time=AT)).encode()


def task(n: int) -> bytes:
    return Task(
        task_id=f"t{n}",
        kind="talk",
        assignee_id="m001",
        member_id="m100",
        cause=f"v{n}",
        status="open",
        due=AT,
        created_at=AT,
    ).to_json()


def notification(n: int) -> bytes:
    return Notification(
        key=f"violation_reminder/m{n}/v1",
        rule="violation_reminder",
        recipient_id=f"m{n}",
        cause="v1",
        phone=None,
        text="提醒",
        status="queued",
        created_at=AT,
        updated_at=AT,
    ).to_json()


def score(member_id: str) -> bytes:
    return IndexScore(
        quarter="2026Q4",
        level="member",
        id=member_id,
        name=member_id,
        index=80.0,
        index_exact=80.0,
        components={},
        details={},
        status="provisional",
        rules_version="1",
    ).to_json()


# --- the table -------------------------------------------------------------------------------


def test_the_projector_reads_exactly_the_topics_that_name_it_a_consumer() -> None:
    named = {t for t in topics.ALL_TOPICS if CONSUMER in t.consumers}
    assert set(ROUTES) == named
    assert tuple(ROUTES) == PROJECTED
    assert Projector(KAFKA).topic_names == [KAFKA.topic(t) for t in ROUTES]


def test_every_table_of_the_gateway_has_one_read_model_or_is_named_as_none() -> None:
    created, dropped = set(), set()
    for migration in resources.files("mingdeng.gateway.adapters.sql").iterdir():
        if migration.name.endswith(".sql"):
            created |= set(re.findall(r"CREATE TABLE gateway\.(\w+)", migration.read_text()))
            dropped |= set(re.findall(r"DROP TABLE gateway\.(\w+)", migration.read_text()))
    created -= dropped
    owned = Counter(PROJECTION_TABLES)
    assert [table for table, owners in owned.items() if owners > 1] == []
    assert set(owned) == created - NOT_READ_MODELS
    assert "contributions" in owned  # the hand-kept list had missed it: a rebuild kept it


def test_each_inbound_type_is_routed_to_the_read_models_that_read_it_in_every_version() -> None:
    routed = {
        (kind.event_type, model) for model in inbound.EVENT_READ_MODELS for kind in model.reads
    }
    assert routed == {
        (event_type, model)
        for event_type, routes in inbound.READS.items()
        for model, _ in routes
        if event_type in {kind.event_type for kind in model.reads}
    }
    assert set(inbound.READ_MODEL.tables) == {
        table for model in inbound.EVENT_READ_MODELS for table in model.tables
    }
    read = {kind for model in inbound.EVENT_READ_MODELS for kind in model.reads}
    # the projector skips a record by its type on the wire before parsing it: an older version
    # of a type it reads is routed where the newest goes, to be upcast when parsed
    for old, step in UPCASTERS.items():
        newer = typing.get_type_hints(step)["return"]
        if newer in read:
            assert inbound.READS[old.event_type] == inbound.READS[newer.event_type]
    assert read <= set(PAYLOAD_TYPES)


# --- what a batch writes ---------------------------------------------------------------------


async def test_every_routed_inbound_type_writes_its_read_model_s_tables() -> None:
    for event_type, routes in inbound.READS.items():  # from the pages: the actions' too
        document = cloudevent(event_type, SAMPLE_DATA[event_type], time=AT, source="/dashboard")
        connection = await project(Log().record(topics.EVENTS, json.dumps(document).encode()))
        tables = {table for model, _ in routes for table in model.tables}
        assert set(connection.written()) - {"registry_version"} <= tables, event_type
        assert connection.written(), event_type


async def test_other_inbound_types_are_not_parsed_nor_written() -> None:
    log = Log()
    connection = await project(
        log.record(topics.EVENTS, event("mingdeng.maxim.submitted.v1")),
        log.record(topics.EVENTS, b'{"type": "mingdeng.member.registered.v1", "data": {}}'),
        log.record(topics.EVENTS, b'{"type": ["not", "a", "string"]}'),
        log.record(topics.EVENTS, None),
    )
    assert connection.calls == []  # an invalid event is scoring's to dead-letter
    # the 机关工委's view notes only that the agency sent something (docs/committee.md)
    assert connection.committee == [committee.RECEIVED]


async def test_a_binary_mode_record_is_read_and_one_keyed_otherwise_is_skipped() -> None:
    document = json.loads(event("mingdeng.member.registered.v1"))
    value, header_list = kafka_binary(document, content_type=None)
    headers = tuple(header_list)
    subject = document["subject"].encode()
    name = KAFKA.topic(topics.EVENTS)
    keyed_otherwise = await project(Record(name, 0, 0, b"other", value, 0, headers))
    assert keyed_otherwise.calls == []  # scoring's to dead-letter, not applied here
    connection = await project(Record(name, 0, 0, subject, value, 0, headers))
    assert "members" in connection.written()


async def test_a_batch_writes_each_table_with_one_statement() -> None:
    log = Log()
    records = [
        *(
            log.record(topics.EVENTS, event("mingdeng.lecture.attended.v1", member_id=f"m{n}"))
            for n in range(200)
        ),
        *(
            log.record(topics.EVENTS, event("mingdeng.kpi.reported.v1", subject_id=f"m{n}"))
            for n in range(50)
        ),
        *(
            log.record(topics.EVENTS, event("mingdeng.member.registered.v1", member_id=f"m{n}"))
            for n in range(30)
        ),
        *(log.record(topics.EVENTS, event("mingdeng.member.left.v1")) for _ in range(3)),
        *(log.record(topics.TASKS, task(n)) for n in range(40)),
        *(log.record(topics.NOTIFICATIONS, notification(n)) for n in range(40)),
        *(log.record(topics.SCORES, score(f"m{n}")) for n in range(40)),
    ]
    connection = await project(*records)
    assert connection.written() == {
        "attendances": 1,
        "kpis": 1,
        "event_facts": 1,  # the attendances' and the KPIs' facts
        "members": 2,  # registrations, departures
        "member_phones": 1,  # the platform's index of phone numbers, for the login
        "registry_version": 1,
        "tasks": 1,
        "notifications": 1,
        "scores": 1,
    }
    assert len(connection.rows("tasks")) == 40
    assert connection.notified() == ["default/rankings", "default/registry"]


async def test_a_score_tombstone_removes_the_subject_and_the_last_value_of_a_key_counts() -> None:
    log = Log()
    connection = await project(
        log.record(topics.SCORES, score("m1")),
        log.record(topics.SCORES, None, key=b"2026Q4/member/m1"),
        log.record(topics.SCORES, None, key=None),
        log.record(topics.TASKS, None),  # a tombstone elsewhere: nothing to show
    )
    [(sql, args)] = [(sql, args) for sql, args in connection.calls if "DELETE" in sql]
    assert "DELETE FROM scores" in sql and args == (["2026Q4"], ["member"], ["m1"])
    assert not any("INSERT INTO scores" in sql for sql, _ in connection.calls)
    assert connection.notified() == ["default/rankings"]


async def test_only_what_the_api_keeps_in_memory_is_notified() -> None:
    connection = await project(Log().record(topics.TASKS, task(1)))
    assert connection.notified() == []


# --- dead letters ----------------------------------------------------------------------------


async def test_a_record_the_projector_cannot_read_is_kept_as_a_shared_dead_letter() -> None:
    log = Log()
    bad = b'{"task_id": "t9", "kind": "party"}'
    connection = await project(
        log.record(topics.TASKS, task(1)),
        log.record(topics.TASKS, bad, key=b"t9"),
        log.record(topics.SCORES, b"\x00\xff not json"),
        log.record(topics.TASKS, task(2)),
    )
    assert [row[0] for row in connection.rows("tasks")] == ["t1", "t2"]
    kept = connection.rows("dead_letters")
    assert [(topic, offset, raw, reason) for topic, _, offset, _, raw, reason in kept] == [
        ("t.mingdeng.tasks.v1", 1, bad, "ValidationError"),
        ("t.mingdeng.scores.v1", 0, b"\x00\xff not json", "ValidationError"),
    ]
    letter = DeadLetter.model_validate_json(kept[0][3])
    assert (letter.consumer, letter.topic, letter.offset, letter.key, letter.raw) == (
        dead_letters.CONSUMER,
        "t.mingdeng.tasks.v1",
        1,
        "t9",
        bad.decode(),
    )
    assert "\x00" not in kept[1][3]  # jsonb refuses NUL: shown as U+FFFD, exact in `raw`


async def test_a_dead_letter_of_scoring_is_read_as_the_shared_model() -> None:
    letter = DeadLetter(
        consumer="scoring",
        topic="t.mingdeng.events.v1",
        partition=2,
        offset=7,
        key="m1",
        raw='{"specversion": "1.0", "id": "x\x00"}',
        raw_base64="eyJ9",
        reasons=[{"field": "id", "message": "NUL"}],
        failed_at=AT,
    )
    log = Log()
    connection = await project(
        log.record(topics.DEAD_LETTER, letter.to_json()),
        log.record(topics.DEAD_LETTER, b'{"consumer": "scoring"}'),  # not a dead letter
    )
    [upstream, unreadable] = connection.rows("dead_letters")
    assert upstream[5] == dead_letters.UPSTREAM and upstream[4] == letter.to_json()
    assert DeadLetter.model_validate_json(upstream[3]) == letter.model_copy(
        update={"raw": letter.raw.replace("\x00", "\ufffd")}
    )
    assert unreadable[5] == "ValidationError"
