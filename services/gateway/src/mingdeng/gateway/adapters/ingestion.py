"""POST /v1/events: claim (source, id) in the ledger, publish to Kafka, then confirm.

1. A short transaction claims the new keys (`published = false`, with a hash of the content)
   and reads the known ones: the same content is a duplicate, another content a conflict.
2. The connection goes back to the pool; the events are published, waiting at most
   `publish_timeout_s` for every record's acknowledgement (acks=all).
3. Acknowledged: the claims are confirmed. Not acknowledged: the claims are released, so that
   nothing is recorded and the client's retry publishes.

The producer is not idempotent on purpose: an idempotent producer retries a record until the
broker takes it, even long after the client was told 503. Here a record not acknowledged within
the timeout expires in the client and is never sent later. A retried record can reach the log
twice; every reader keeps an event once per (source, id). A claim that a crash left unconfirmed
is taken over by the next request for that key once it is `claim_expiry_s` old.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, QuarterClosed
from mingdeng.contracts.topics import BARRIER_HEADER, EVENTS
from mingdeng.runtime.faults import is_transient
from mingdeng.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)

Key = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Accepted:
    accepted: list[str]
    duplicates: list[str]


class Conflict(Exception):
    """Known (source, id) with another content: the ids of the conflicting events."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


class Unavailable(Exception):
    """A dependency did not answer in time; nothing was published. `retry_after_s` for the
    client's Retry-After."""

    def __init__(self, dependency: str, detail: str, retry_after_s: int) -> None:
        super().__init__(f"{dependency}: {detail}")
        self.dependency, self.detail, self.retry_after_s = dependency, detail, retry_after_s


def content_hash(event: Event[EventData]) -> str:
    return hashlib.sha256(serialize_event(event)).hexdigest()


class EventPublisher:
    def __init__(
        self, kafka: KafkaSettings, publish_timeout_s: float = 10.0, claim_expiry_s: float = 30.0
    ) -> None:
        self._topic = kafka.topic(EVENTS)
        self._timeout_s = publish_timeout_s
        self._claim_expiry_s = max(claim_expiry_s, 2 * publish_timeout_s)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            client_id="mingdeng-gateway",
            acks="all",
            enable_idempotence=False,  # see the module's docstring
            request_timeout_ms=int(publish_timeout_s * 1000),
            linger_ms=5,
        )
        self._closing = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def _send(self, event: Event[EventData]) -> list[asyncio.Future[object]]:
        """One record; a close as a barrier copy on every partition (see BARRIER_HEADER)."""
        key, value = event.subject.encode(), serialize_event(event)
        if not isinstance(event.data, QuarterClosed):
            return [await self._producer.send(self._topic, key=key, value=value)]
        async with self._closing:  # one close's copies at a time: barriers never cross
            partitions = sorted(await self._producer.partitions_for(self._topic))
            copies = [
                await self._producer.send(
                    self._topic, key=key, value=value, partition=p, headers=[(BARRIER_HEADER, b"1")]
                )
                for p in partitions
            ]
            await asyncio.gather(*copies)
        return copies

    async def accept(self, pool: asyncpg.Pool, events: Sequence[Event[EventData]]) -> Accepted:
        unique: dict[Key, Event[EventData]] = {}
        for event in events:
            unique.setdefault(event.key, event)
        new = await self._database("claiming", self._claim(pool, unique))
        try:
            await asyncio.wait_for(
                self._publish([e for key, e in unique.items() if key in new]), self._timeout_s + 1
            )
        except (KafkaError, TimeoutError) as error:
            await self._database("releasing", self._release(pool, new))
            raise Unavailable(
                "Kafka", f"the broker did not acknowledge: {type(error).__name__}", 5
            ) from None
        try:
            await self._confirm(pool, new)
        except Exception as error:  # published: the events are in the log whatever happens here
            if not is_transient(error):
                raise
            log.warning("published but not confirmed (%s); a retry publishes again", error)
        return Accepted(
            accepted=[e.id for e in events if e.key in new],
            duplicates=[e.id for e in events if e.key not in new],
        )

    async def _publish(self, events: Sequence[Event[EventData]]) -> None:
        """Send every event, keyed by subject; return once all are acknowledged."""
        sends = []
        for event in events:
            sends += await self._send(event)
        await asyncio.gather(*sends)

    async def _claim(self, pool: asyncpg.Pool, unique: dict[Key, Event[EventData]]) -> set[Key]:
        """Claim the keys not known yet, and those whose claim a crash left behind; raise
        Conflict for a known key with other content, Unavailable for one being published now."""
        hashes = {key: content_hash(e) for key, e in unique.items()}
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """INSERT INTO gateway.accepted_events
                       (source, id, type, content_hash, published, claimed_at)
                   SELECT s, i, t, h, false, now()
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(s, i, t, h)
                   ON CONFLICT DO NOTHING RETURNING source, id""",
                [s for s, _ in unique],
                [i for _, i in unique],
                [e.type for e in unique.values()],
                list(hashes.values()),
            )
            new = {(row["source"], row["id"]) for row in rows}
            known = await connection.fetch(
                """SELECT source, id, content_hash, published,
                          claimed_at < now() - make_interval(secs => $3) AS expired
                   FROM gateway.accepted_events
                   WHERE (source, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
                [s for s, i in unique if (s, i) not in new],
                [i for s, i in unique if (s, i) not in new],
                self._claim_expiry_s,
            )
            conflicts = sorted(
                row["id"]
                for row in known
                if row["content_hash"] is not None
                and row["content_hash"] != hashes[(row["source"], row["id"])]
            )
            if conflicts:
                raise Conflict(conflicts)
            unconfirmed = [row for row in known if not row["published"]]
            if any(not row["expired"] for row in unconfirmed):
                raise Unavailable("Kafka", "the same events are being published right now", 2)
            for row in unconfirmed:  # a crash left the claim: take it over
                await connection.execute(
                    """UPDATE gateway.accepted_events SET claimed_at = now()
                       WHERE source = $1 AND id = $2""",
                    row["source"],
                    row["id"],
                )
                new.add((row["source"], row["id"]))
        return new

    async def _release(self, pool: asyncpg.Pool, keys: set[Key]) -> None:
        async with pool.acquire() as connection:
            await connection.execute(
                """DELETE FROM gateway.accepted_events WHERE NOT published
                   AND (source, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
                [s for s, _ in keys],
                [i for _, i in keys],
            )

    async def _confirm(self, pool: asyncpg.Pool, keys: set[Key]) -> None:
        async with pool.acquire() as connection:
            await connection.execute(
                """UPDATE gateway.accepted_events SET published = true
                   WHERE (source, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
                [s for s, _ in keys],
                [i for _, i in keys],
            )

    async def _database(self, what: str, step: Awaitable[T]) -> T:
        try:
            return await step
        except (Conflict, Unavailable):
            raise
        except Exception as error:
            if not is_transient(error):
                raise
            raise Unavailable("PostgreSQL", f"{what}: {type(error).__name__}", 5) from None
