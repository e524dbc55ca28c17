"""The gateway's projector: derived topics and the registry into PostgreSQL read models.

`ROUTES` says which read model takes the records of each topic it reads; the projector reads
exactly those topics. Runs under `ProjectionRunner`, so rows and offsets commit together: each
read model keeps what a batch of records means (`prepare`, while the batch before commits) and
writes it in the batch's transaction (`write`), a statement per table. A record that cannot be
read is kept in dead_letters with its reason and its bytes as they were, never dropped,
and never stops the projector; a record that fails otherwise the runner parks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem
from mingdeng.contracts.codec import record_agency
from mingdeng.contracts.text import shown
from mingdeng.contracts.topics import (
    BULLETINS,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    NOTIFICATIONS,
    OUTREACH,
    RANKINGS,
    SCORES,
    SELECTIONS,
    TASKS,
    Topic,
)
from mingdeng.gateway.adapters.agency_schemas import PLATFORM_SCHEMA, ensure_schema
from mingdeng.gateway.adapters.read_cache import CHANGED_CHANNEL, KINDS, Kind, changed_payload
from mingdeng.gateway.adapters.read_models import (
    agencies,
    bulletins,
    committee,
    dead_letters,
    event_status,
    inbound,
    notifications,
    outreach,
    rankings,
    scores,
    selections,
    tasks,
)
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.gateway.adapters.read_models.registry import PHONES_TABLE
from mingdeng.gateway.adapters.read_models.scores import SCORE_CHANNEL
from mingdeng.runtime.agencies import header_agency
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

__all__ = ["PROJECTED", "PROJECTOR_GROUP", "ROUTES", "SCORE_CHANNEL", "Projector"]

log = logging.getLogger(__name__)

PROJECTOR_GROUP = "mingdeng-gateway-projector"
CONSUMER = "gateway projector"  # as `mingdeng.contracts.topics` names it among the consumers

# A batch is written in this order: the scores, then the ranks the batch's chunks give (a score
# finds its rank whichever came first), then the selections, which remove the ranks of chunks
# beyond their ranking's size once the batch's own chunks are read.
ROUTES: dict[Topic, ReadModel] = {
    EVENTS: inbound.READ_MODEL,
    SCORES: scores.READ_MODEL,
    RANKINGS: rankings.READ_MODEL,
    SELECTIONS: selections.READ_MODEL,
    EVENT_STATUS: event_status.READ_MODEL,
    DEAD_LETTER: dead_letters.READ_MODEL,
    OUTREACH: outreach.READ_MODEL,
    TASKS: tasks.READ_MODEL,
    NOTIFICATIONS: notifications.READ_MODEL,
    BULLETINS: bulletins.READ_MODEL,
}
PROJECTED: tuple[Topic, ...] = tuple(ROUTES)
PROJECTION_TABLES: tuple[str, ...] = tuple(
    table for model in ROUTES.values() for table in model.tables
)
# what the projector writes into the platform's schema `gateway`, whatever the record's agency
PLATFORM_PROJECTION_TABLES: tuple[str, ...] = (*agencies.READ_MODEL.tables, PHONES_TABLE)
AGENCY_PROJECTION_TABLES = tuple(
    table for table in PROJECTION_TABLES if table not in PLATFORM_PROJECTION_TABLES
)


# Records read between two turns of the event loop, while a batch is prepared: the transaction
# of the batch before goes on between them.
READ_BETWEEN_TURNS = 50


@dataclass
class AgencyPrepared:
    """What a batch of records means for each read model of one agency, and the records of
    that agency none can read."""

    batches: dict[ReadModel, Batch] = field(default_factory=dict)
    refused: dead_letters.DeadLetterBatch = field(default_factory=dead_letters.DeadLetterBatch)


@dataclass
class Prepared:
    """A batch of records by agency (an agency's registration is its own: its schema is made
    with it); `committee`: what it means for the 机关工委's view, which reads every agency's."""

    committee: committee.CommitteeBatch
    agencies: dict[str, AgencyPrepared] = field(default_factory=dict)

    def of(self, agency: str) -> AgencyPrepared:
        found = self.agencies.get(agency)
        if found is None:
            found = self.agencies[agency] = AgencyPrepared()
        return found


class Projector:
    """Writes each record into the read models of its agency (ADR 0003): an inbound event's
    agency is its `agency` attribute, a derived record's its `mingdeng-agency` header. An
    agency's schema is made when its first record, or its registration, arrives."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._routes = {kafka.topic(topic): model for topic, model in ROUTES.items()}
        self.topic_names = list(self._routes)
        self._committee_topics = {kafka.topic(topic): topic for topic in committee.TOPICS}
        self._inbound = kafka.topic(EVENTS)
        self._schemas: dict[str, str] = {DEFAULT_AGENCY: PLATFORM_SCHEMA}  # known to exist

    async def _schema(self, connection: asyncpg.Connection, agency: str) -> str:
        """`agency`'s schema, made in this transaction if it is new. Remembered once seen made
        by a committed transaction (a schema is never dropped): one made here is looked up
        again by the next batch, in case this transaction does not commit."""
        known = self._schemas.get(agency)
        if known is not None:
            return known
        schema, made = await ensure_schema(connection, agency)
        if not made:
            self._schemas[agency] = schema
        return schema

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await self.write(connection, await self.prepare(records))

    def agency_of(self, record: Record) -> str:
        """The record's agency; the default agency's read models keep a record whose agency
        cannot be an agency's (scoring dead-letters such an inbound event)."""
        if record.topic == self._inbound:
            agency = record_agency(record.value, record.headers)
        else:
            agency = header_agency(record.headers)
        return DEFAULT_AGENCY if agency_id_problem(agency) else agency

    def _as_before_agencies(self, record: Record, agency: str) -> Record:
        """A derived record of another agency than the default one is keyed `{agency}/{key}`
        (two agencies' records never replace each other on a compacted topic); in the
        agency's own read models it is keyed `{key}`, as every record was before agencies."""
        prefix = f"{agency}/".encode()
        if record.topic == self._inbound or not record.key or agency == DEFAULT_AGENCY:
            return record
        if not record.key.startswith(prefix):
            return record
        return replace(record, key=record.key[len(prefix) :])

    async def prepare(self, records: Sequence[Record]) -> Prepared:
        prepared = Prepared(committee.CommitteeBatch(self._committee_topics))
        for count, record in enumerate(records, 1):
            if count % READ_BETWEEN_TURNS == 0:
                await asyncio.sleep(0)
            if record.topic in self._committee_topics:
                try:
                    prepared.committee.add(record)
                except ValueError as error:  # dead-lettered below, in its agency's read models
                    log.warning("the committee's view cannot read %s[%d]@%d: %s", record.topic,
                                record.partition, record.offset, shown(str(error), 500))  # fmt: skip
            agency = self.agency_of(record)
            into = prepared.of(agency)
            model = self._routes[record.topic]
            batch = into.batches.get(model)
            if batch is None:
                batch = into.batches[model] = model.batch()
            try:
                batch.add(self._as_before_agencies(record, agency))
            except ValueError as error:  # a ValidationError or an InvalidEvent is one
                log.warning(
                    "unreadable record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    shown(str(error), 500),
                )
                into.refused.refuse(record, error)
        return prepared

    async def write(self, connection: asyncpg.Connection, prepared: Prepared) -> None:
        for agency, batches in prepared.agencies.items():
            schema = await self._schema(connection, agency)
            await connection.execute(f"SET LOCAL search_path = {schema}")
            changed: set[Kind] = set()
            for model in self._routes.values():
                if model in batches.batches:
                    changed |= await batches.batches[model].write(connection)
            await batches.refused.write(connection)
            for kind in KINDS:  # what the API keeps in memory reads these again after the commit
                if kind in changed:
                    await connection.execute(
                        "SELECT pg_notify($1, $2)", CHANGED_CHANNEL, changed_payload(agency, kind)
                    )
        await prepared.committee.write(connection)


async def forget_projections(connection: asyncpg.Connection, consumer: str) -> None:
    """Empty every read model of every agency and the projector's offsets: its next start
    reads the log again. The ingestion ledger (gateway.accepted_events), the agencies' schemas
    and the platform's tables are not projections and stay."""
    async with connection.transaction():
        platform = ", ".join(f"gateway.{table}" for table in PLATFORM_PROJECTION_TABLES)
        await connection.execute(f"TRUNCATE {platform}")
        await committee.forget(connection)
        for row in await connection.fetch("SELECT schema_name FROM gateway.agency_schemas"):
            await connection.execute(f"SET LOCAL search_path = {row['schema_name']}")
            await connection.execute(f"TRUNCATE {', '.join(AGENCY_PROJECTION_TABLES)}")
            await connection.execute("UPDATE registry_version SET version = version + 1")
        await connection.execute("SELECT pg_notify($1, 'all')", CHANGED_CHANNEL)
        await connection.execute(
            "DELETE FROM public.consumer_offsets WHERE consumer = $1", consumer
        )
