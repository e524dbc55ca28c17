"""The gateway's projector: derived topics and the registry into PostgreSQL read models.

`ROUTES` says which read model takes the records of each topic it reads; the projector reads
exactly those topics. Runs under `ProjectionRunner`, so rows and offsets commit together: each
read model keeps what a batch of records means (`prepare`, while the batch before commits) and
writes it in the batch's transaction (`write`), a statement per table. A record that cannot be
read is kept in gateway.dead_letters with its reason and its bytes as they were, never dropped,
and never stops the projector; a record that fails otherwise the runner parks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY
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
from mingdeng.gateway.adapters.read_cache import CHANGED_CHANNEL, KINDS, Kind
from mingdeng.gateway.adapters.read_models import (
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
from mingdeng.gateway.adapters.read_models.agencies import PLATFORM_WIDE
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.gateway.adapters.read_models.inbound import event_type
from mingdeng.gateway.adapters.read_models.scores import SCORE_CHANNEL
from mingdeng.runtime.agencies import OtherAgencies
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


# Records read between two turns of the event loop, while a batch is prepared: the transaction
# of the batch before goes on between them.
READ_BETWEEN_TURNS = 50


@dataclass
class Prepared:
    """What a batch of records means for each read model, and the records none can read;
    `committee`: what it means for the 机关工委's view, which reads every agency's records."""

    committee: committee.CommitteeBatch
    batches: dict[ReadModel, Batch] = field(default_factory=dict)
    refused: dead_letters.DeadLetterBatch = field(default_factory=dead_letters.DeadLetterBatch)


class Projector:
    """`agency`: the one agency whose records the read models hold. Until they are scoped by
    agency (issue 25, item 3), the records of any other agency are skipped and counted in
    `other_agencies` by topic (the metric `mingdeng_projection_other_agency_records`)."""

    def __init__(self, kafka: KafkaSettings, agency: str = DEFAULT_AGENCY) -> None:
        self._routes = {kafka.topic(topic): model for topic, model in ROUTES.items()}
        self.topic_names = list(self._routes)
        self._committee_topics = {kafka.topic(topic): topic for topic in committee.TOPICS}
        self.agency = agency
        inbound_topic = kafka.topic(EVENTS)
        self.other_agencies = OtherAgencies(
            agency,
            inbound_topic,
            "MINGDENG_GATEWAY_AGENCY",
            platform_wide=lambda record: (
                record.topic == inbound_topic
                and record.value is not None
                and event_type(record.value, record.headers) in PLATFORM_WIDE
            ),
        )

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        await self.write(connection, await self.prepare(records))

    async def prepare(self, records: Sequence[Record]) -> Prepared:
        prepared = Prepared(committee.CommitteeBatch(self._committee_topics))
        batches = prepared.batches
        for count, record in enumerate(records, 1):
            if count % READ_BETWEEN_TURNS == 0:
                await asyncio.sleep(0)
            if record.topic in self._committee_topics:
                try:
                    prepared.committee.add(record)
                except ValueError as error:  # of the served agency, dead-lettered below
                    log.warning("the committee's view cannot read %s[%d]@%d: %s", record.topic,
                                record.partition, record.offset, shown(str(error), 500))  # fmt: skip
            if self.other_agencies.skips(record):
                continue
            model = self._routes[record.topic]
            batch = batches.get(model)
            if batch is None:
                batch = batches[model] = model.batch()
            try:
                batch.add(record)
            except ValueError as error:  # a ValidationError or an InvalidEvent is one
                log.warning(
                    "unreadable record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    shown(str(error), 500),
                )
                prepared.refused.refuse(record, error)
        return prepared

    async def write(self, connection: asyncpg.Connection, prepared: Prepared) -> None:
        changed: set[Kind] = set()
        for model in self._routes.values():
            if model in prepared.batches:
                changed |= await prepared.batches[model].write(connection)
        await prepared.refused.write(connection)
        await prepared.committee.write(connection)
        for kind in KINDS:  # what the API keeps in memory reads these again after the commit
            if kind in changed:
                await connection.execute("SELECT pg_notify($1, $2)", CHANGED_CHANNEL, kind)


async def forget_projections(connection: asyncpg.Connection, consumer: str) -> None:
    """Empty every read model and the projector's offsets: its next start reads the log again.
    The ingestion ledger (gateway.accepted_events) is not a projection and stays."""
    async with connection.transaction():
        tables = ", ".join(f"gateway.{table}" for table in PROJECTION_TABLES)
        await connection.execute(f"TRUNCATE {tables}")
        await committee.forget(connection)
        await connection.execute("UPDATE gateway.registry_version SET version = version + 1")
        await connection.execute("SELECT pg_notify($1, 'all')", CHANGED_CHANNEL)
        await connection.execute(
            "DELETE FROM public.consumer_offsets WHERE consumer = $1", consumer
        )
