"""`mingdeng dead-letters list|show|redrive`: what the consumers could not take, and putting a
corrected record back on its topic.

Two places hold them (docs/operations.md):
- `public.parked_records`: a record a consumer (notify, outreach, the gateway's projector)
  parked itself, byte for byte, with the reason. Reference `p:<consumer>:<topic>:<partition>:<offset>`.
- `dead_letters` of each agency's read models (ADR 0003: `gateway` for the default agency,
  `agency_<id>` for another): the dead-letter topic as the gateway projected it, and records
  the projector could not read. Reference `d:<topic>:<partition>:<offset>` for the default
  agency, `d@<agency>:<topic>:<partition>:<offset>` for another.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import CONTENT_TYPE, KAFKA_PREFIX, KafkaHeader, parse_kafka_event
from mingdeng.contracts.derived import RecordHeader
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.topics import BARRIER_HEADER, EVENTS
from mingdeng.runtime.clients import kafka_producer
from mingdeng.runtime.settings import KafkaSettings


@dataclass(frozen=True)
class DeadLetter:
    ref: str
    consumer: str
    topic: str  # where the record was read
    key: bytes | None
    value: bytes | None
    reason: str
    at: datetime | None
    redriven_at: datetime | None
    origin_topic: str  # where a corrected record goes back to
    headers: tuple[KafkaHeader, ...] = ()  # the record's, sent back with it

    def preview(self, width: int = 60) -> str:
        if self.value is None:
            return "(no value)"
        text = self.value[:width].decode(errors="replace").replace("\x00", "\\0")
        return "".join(c if c.isprintable() else "?" for c in text)


async def agency_schemas(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """Each agency whose read models exist, and their schema (the default agency's first)."""
    found = [(DEFAULT_AGENCY, "gateway")]
    if await connection.fetchval("SELECT to_regclass('gateway.agency_schemas') IS NOT NULL"):
        found += [
            (row["agency_id"], row["schema_name"])
            for row in await connection.fetch(
                "SELECT agency_id, schema_name FROM gateway.agency_schemas"
                " WHERE agency_id <> $1 ORDER BY agency_id",
                DEFAULT_AGENCY,
            )
        ]
    return found


def _schema_ref(agency: str) -> str:
    return "d" if agency == DEFAULT_AGENCY else f"d@{agency}"


async def list_dead_letters(connection: asyncpg.Connection, everything: bool) -> list[DeadLetter]:
    found = []
    pending = "" if everything else "WHERE redriven_at IS NULL"
    for row in await connection.fetch(
        f"""SELECT consumer, topic, partition, "offset", key, value, reason, error, parked_at,
                   redriven_at FROM public.parked_records {pending} ORDER BY parked_at"""
    ):
        found.append(
            DeadLetter(
                ref=f"p:{row['consumer']}:{row['topic']}:{row['partition']}:{row['offset']}",
                consumer=row["consumer"],
                topic=row["topic"],
                key=row["key"],
                value=row["value"],
                reason=f"{row['reason']}: {row['error']}",
                at=row["parked_at"],
                redriven_at=row["redriven_at"],
                origin_topic=row["topic"],
            )
        )
    for agency, schema in await agency_schemas(connection):
        if not await connection.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{schema}.dead_letters"
        ):
            continue
        for row in await connection.fetch(
            f"""SELECT topic, partition, "offset", body, raw, reason, redriven_at
                FROM {schema}.dead_letters {pending} ORDER BY topic, partition, "offset" """
        ):
            found.append(_from_gateway(row, agency))
    return found


def _from_gateway(row: asyncpg.Record, agency: str = DEFAULT_AGENCY) -> DeadLetter:
    body = json.loads(row["body"]) if row["body"] else {}
    body = body if isinstance(body, dict) else {}
    reasons = body.get("reasons") or []
    # a dead letter from the topic carries the refused record; one of the projector is the record
    inner = body.get("raw") if row["reason"] == "dead-lettered upstream" else None
    exact = body.get("raw_base64") if inner is not None else None
    value: bytes | None
    if isinstance(exact, str):
        value = base64.b64decode(exact)  # the refused bytes exactly
    elif inner is not None and "raw_base64" in (body.get("truncated") or []):
        value = None  # the letter refers to its record: only a correction can be sent
    else:
        value = inner.encode() if isinstance(inner, str) else row["raw"]
    key = body.get("key") if inner is not None else None
    return DeadLetter(
        ref=f"{_schema_ref(agency)}:{row['topic']}:{row['partition']}:{row['offset']}",
        consumer=str(body.get("consumer", "?")),
        topic=row["topic"],
        key=key.encode() if isinstance(key, str) else None,
        value=value,
        reason="; ".join(
            f"{r.get('field')}: {r.get('message')}" for r in reasons if isinstance(r, dict)
        )
        or str(row["reason"]),
        at=None,
        redriven_at=row["redriven_at"],
        origin_topic=str(body.get("topic") or row["topic"]) if inner is not None else row["topic"],
        headers=tuple(
            (header.key, header.value)
            for header in (RecordHeader.model_validate(h) for h in body.get("headers") or [])
        ),
    )


async def find(connection: asyncpg.Connection, ref: str) -> DeadLetter:
    for letter in await list_dead_letters(connection, everything=True):
        if letter.ref == ref:
            return letter
    raise LookupError(f"no dead letter {ref}; `mingdeng dead-letters list --all` shows them")


def check_record(
    kafka: KafkaSettings, topic: str, value: bytes, headers: tuple[KafkaHeader, ...] = ()
) -> bytes | None:
    """Refuse a corrected inbound event that is still invalid (in the mode its headers say);
    return its key, its agency (ADR 0002)."""
    if topic != kafka.topic(EVENTS):
        json.loads(value)  # derived topics: JSON at least; their consumers check the rest
        return None
    event = parse_kafka_event(value, headers, latest=False)
    return event.partition_key.encode()


def headers_to_send(
    headers: tuple[KafkaHeader, ...], corrected: bytes | None
) -> tuple[KafkaHeader, ...]:
    """The headers a re-drive sends: the record's, without a barrier mark, and without the
    binary-mode ones when the correction is a whole event in structured mode."""
    kept = tuple((name, raw) for name, raw in headers if name != BARRIER_HEADER)
    if corrected is None or not _is_structured_event(corrected):
        return kept
    return tuple(
        (name, raw)
        for name, raw in kept
        if not name.lower().startswith(KAFKA_PREFIX) and name.lower() != CONTENT_TYPE
    )


def _is_structured_event(value: bytes) -> bool:
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and "specversion" in document


def letter_agency(kind: str) -> str:
    """The agency of a reference's kind: `d` the default agency's, `d@<agency>` another's."""
    return kind.split("@", 1)[1] if "@" in kind else DEFAULT_AGENCY


async def redrive(
    connection: asyncpg.Connection, kafka: KafkaSettings, ref: str, corrected: bytes | None
) -> DeadLetter:
    """Publish the corrected record (or the original bytes, when a since-fixed bug refused
    them) to the record's topic, with the record's headers, keyed by its agency, and mark
    the dead letter re-driven. A corrected value replaces the value: a binary-mode event
    keeps its `ce_` headers, unless the correction is a whole event in structured mode. A barrier mark is not sent back: a close re-driven alone
    is a new close, whose copies scoring writes."""
    letter = await find(connection, ref)
    value = corrected if corrected is not None else letter.value
    if value is None:
        raise ValueError(
            f"{ref} keeps no exact copy of its record (none, or over the size of an event): "
            "give a corrected record"
        )
    headers = headers_to_send(letter.headers, corrected)
    try:
        key = check_record(kafka, letter.origin_topic, value, headers) or letter.key
    except (InvalidEvent, ValueError) as error:
        raise ValueError(f"the record is still refused: {error}") from None
    producer = kafka_producer(kafka.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            letter.origin_topic, key=key, value=value, headers=list(headers)
        )
    finally:
        await producer.stop()
    kind, *where = ref.split(":")
    if kind == "p":
        consumer, topic, partition, offset = ":".join(where[:-3]), *where[-3:]
        await connection.execute(
            """UPDATE public.parked_records SET redriven_at = now() WHERE consumer = $1
               AND topic = $2 AND partition = $3 AND "offset" = $4""",
            consumer,
            topic,
            int(partition),
            int(offset),
        )
    else:
        schema = dict(await agency_schemas(connection))[letter_agency(kind)]
        topic, partition, offset = ":".join(where[:-2]), *where[-2:]
        await connection.execute(
            f"""UPDATE {schema}.dead_letters SET redriven_at = now()
               WHERE topic = $1 AND partition = $2 AND "offset" = $3""",
            topic,
            int(partition),
            int(offset),
        )
    return letter
