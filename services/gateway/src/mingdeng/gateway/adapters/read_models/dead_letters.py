"""Records nobody could read: the dead-letter topic (what scoring refused, with its reasons),
and the records this projector could not read itself. Each is kept with its reason beside the
record's bytes as they were (`raw`), never dropped; `mingdeng dead-letters` lists and re-drives
them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from mingdeng.contracts.codec import decode_json
from mingdeng.contracts.derived import DeadLetter
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record

MAX_DEAD_LETTER_BYTES = 4 * 1024 * 1024  # a dead letter carries the refused record inside
CONSUMER = "gateway.projector"
UPSTREAM = "dead-lettered upstream"  # the reason of a letter read on the dead-letter topic


class DeadLetterBatch(Batch):
    def __init__(self) -> None:
        self._rows: list[tuple[str, int, int, str, bytes | None, str]] = []

    def add(self, record: Record) -> None:
        """A letter of the dead-letter topic."""
        if record.value is not None:
            document = decode_json(record.value, max_bytes=MAX_DEAD_LETTER_BYTES)
            self._keep(record, DeadLetter.model_validate(document), UPSTREAM)

    def refuse(self, record: Record, error: ValueError) -> None:
        """A record of any topic that the projector could not read."""
        letter = DeadLetter.of_record(
            consumer=CONSUMER,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=record.headers,
            reasons=[{"field": "(record)", "message": str(error)}],
            failed_at=datetime.now(UTC),
        )
        self._keep(record, letter, type(error).__name__)

    def _keep(self, record: Record, letter: DeadLetter, reason: str) -> None:
        body = json.dumps(_storable(letter.model_dump(mode="json")), ensure_ascii=False)
        self._rows.append(
            (record.topic, record.partition, record.offset, body, record.value, reason)
        )

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self._rows:
            await connection.executemany(
                """INSERT INTO dead_letters (topic, partition, "offset", body, raw, reason)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                self._rows,
            )
        return set()


def _storable(value: object) -> object:
    """`value` with every NUL in its strings, which jsonb refuses, shown as U+FFFD (the bytes
    stay exact in `raw`; the depth is bounded by decode_json)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


READ_MODEL = ReadModel(tables=("dead_letters",), batch=DeadLetterBatch)
