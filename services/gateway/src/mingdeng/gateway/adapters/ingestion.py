"""POST /v1/events: claim (source, id) in the ledger, publish to Kafka in one transaction, then
confirm.

1. A short transaction claims the new keys (`published = false`, with a hash of the content)
   and reads the known ones: the same content is a duplicate, another content a conflict.
2. The connection goes back to the pool; the batch is published in one Kafka transaction
   (a close as a barrier copy on every partition, in the same transaction), waiting at most
   `publish_timeout_s` for it to commit. Every reader of the log reads committed records only,
   so a batch is on the log whole or not at all.
3. Committed: the claims are confirmed. Not committed: the transaction is aborted (or left to
   be aborted: the producer is replaced, and a new producer with the same transactional id
   fences the old one and aborts what it had open; the coordinator aborts it after
   `transaction_timeout_ms` in any case), the claims are released, and the client is told
   503 with nothing published: a retry publishes once.

One case stays uncertain: the broker stops answering after the commit was sent. The batch may
then be committed or not; the client is told so (503, "unknown"), and a retry is safe, since
every reader keeps an event once per (source, id).

Transactions are sequential per producer: a pool of `producers` transactional producers
(`<transactional_id_prefix>-<n>`) publishes that many batches at once. Each gateway instance
needs its own prefix. A claim that a crash left unconfirmed is taken over by the next request
for that key once it is `claim_expiry_s` old.
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
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, QuarterClosed
from mingdeng.contracts.topics import BARRIER_HEADER, EVENTS
from mingdeng.runtime.clients import kafka_producer
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


def content_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


_partition_of = DefaultPartitioner()  # murmur2 of the key, as every Kafka client partitions


class _CommitUnknown(Exception):
    """The commit was sent and not answered in time."""


class EventPublisher:
    def __init__(
        self,
        kafka: KafkaSettings,
        publish_timeout_s: float = 10.0,
        claim_expiry_s: float = 30.0,
        *,
        producers: int = 4,
        transactional_id_prefix: str = "mingdeng-gateway",
    ) -> None:
        self._kafka = kafka
        self._topic = kafka.topic(EVENTS)
        self._timeout_s = publish_timeout_s
        self._claim_expiry_s = max(claim_expiry_s, 2 * publish_timeout_s)
        self._transactional_ids = [
            kafka.group(f"{transactional_id_prefix}-{n}") for n in range(producers)
        ]
        self._idle: asyncio.Queue[tuple[str, AIOKafkaProducer | None]] = asyncio.Queue()
        self._closing = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    def _new_producer(self, transactional_id: str) -> AIOKafkaProducer:
        return kafka_producer(
            self._kafka.bootstrap_servers,
            client_id="mingdeng-gateway",
            transactional_id=transactional_id,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(self._timeout_s * 1000),
            transaction_timeout_ms=max(int(self._timeout_s * 2000), 10_000),
            retry_backoff_ms=10,  # see the scoring worker: a transaction just after a commit
            linger_ms=2,
            max_batch_size=1024 * 1024,
        )

    async def start(self) -> None:
        """The producers start on first use: the gateway serves reads with the broker away."""
        for transactional_id in self._transactional_ids:
            self._idle.put_nowait((transactional_id, None))

    async def stop(self) -> None:
        while not self._idle.empty():
            _, producer = self._idle.get_nowait()
            if producer is not None:
                await producer.stop()
        await asyncio.gather(*self._stopping)  # failed producers stopping (errors logged)

    async def accept(
        self,
        pool: asyncpg.Pool,
        events: Sequence[Event[EventData]],
        serialized: Sequence[bytes] | None = None,
    ) -> Accepted:
        """`serialized`: the events' bytes when the caller has them already. An event given
        twice counts once; the same (source, id) with another content is a ValueError (the
        HTTP edge refuses such a batch with the positions first)."""
        unique: dict[Key, Event[EventData]] = {}
        payloads: dict[Key, bytes] = {}
        for n, event in enumerate(events):
            payload = serialized[n] if serialized else serialize_event(event)
            if event.key not in unique:
                unique[event.key] = event
                payloads[event.key] = payload
            elif payloads[event.key] != payload:
                raise ValueError(f"{event.key} twice in one batch, with another content")
        new = await self._database("claiming", self._claim(pool, unique, payloads))
        try:
            await self._publish([(unique[key], payloads[key]) for key in unique if key in new])
        except _CommitUnknown as error:
            await self._database("releasing", self._release(pool, new))
            raise Unavailable(
                "Kafka",
                f"the commit was not answered ({error}): the events may or may not be on the log;"
                " sending them again is safe, each counts once",
                5,
            ) from None
        except (KafkaError, TimeoutError) as error:
            await self._database("releasing", self._release(pool, new))
            raise Unavailable(
                "Kafka", f"the broker did not commit the batch: {type(error).__name__}", 5
            ) from None
        try:
            await self._confirm(pool, new)
        except Exception as error:  # published: the events are in the log whatever happens here
            if not is_transient(error):
                raise
            log.warning("published but not confirmed (%s); a retry publishes again", error)
        return Accepted(
            accepted=[key[1] for key in unique if key in new],
            duplicates=[key[1] for key in unique if key not in new],
        )

    async def _publish(self, batch: Sequence[tuple[Event[EventData], bytes]]) -> None:
        """The batch in one transaction, on an idle producer; a producer whose transaction did
        not commit is replaced (see the module's docstring)."""
        if not batch:
            return
        transactional_id, producer = await self._idle.get()
        try:
            if producer is None:
                producer = await self._started(self._new_producer(transactional_id))
            if any(isinstance(event.data, QuarterClosed) for event, _ in batch):
                async with self._closing:  # one close's copies at a time: barriers never cross
                    await self._transaction(producer, batch)
            else:
                await self._transaction(producer, batch)
        except BaseException:
            if producer is not None and not await self._aborted(producer):
                self._discard(producer)
                producer = None
            raise
        finally:
            self._idle.put_nowait((transactional_id, producer))

    async def _started(self, producer: AIOKafkaProducer) -> AIOKafkaProducer:
        """A started producer; a start that fails is a broker away (503). While the broker
        comes back, aiokafka asserts on a coordinator it has not found (seen in the fault
        trials as a 500): that too."""
        try:
            await asyncio.wait_for(producer.start(), self._timeout_s)
        except AssertionError as error:
            try:
                await producer.stop()
            except Exception as stopping:  # a half-started producer: told, not raised
                log.warning("a producer that did not start did not stop either: %r", stopping)
            raise KafkaConnectionError(f"the producer could not start: {error}") from error
        return producer

    async def _transaction(
        self, producer: AIOKafkaProducer, batch: Sequence[tuple[Event[EventData], bytes]]
    ) -> None:
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        async with asyncio.timeout_at(deadline):
            await producer.begin_transaction()
            partitions = sorted(await producer.partitions_for(self._topic))
            builders: dict[int, BatchBuilder] = {}
            sent = []
            for event, payload in batch:
                key = event.partition_key.encode()
                if isinstance(event.data, QuarterClosed) and event.of_default_agency:
                    # the default agency's records may be keyed by subject on any partition:
                    # its close is a barrier; another agency's is in order on its partition
                    targets, headers = partitions, [(BARRIER_HEADER, b"1")]
                else:
                    targets, headers = [_partition_of(key, partitions, partitions)], []
                for partition in targets:
                    builder = builders.get(partition)
                    if builder is None:
                        builder = builders[partition] = producer.create_batch()
                    appended = builder.append(
                        key=key, value=payload, timestamp=None, headers=headers
                    )
                    if appended is not None:
                        continue
                    sent.append(
                        await producer.send_batch(builder, self._topic, partition=partition)
                    )
                    builder = builders[partition] = producer.create_batch()
                    builder.append(key=key, value=payload, timestamp=None, headers=headers)
            for partition, builder in builders.items():
                sent.append(await producer.send_batch(builder, self._topic, partition=partition))
            await asyncio.gather(*sent)
        try:
            async with asyncio.timeout_at(deadline + 1):
                await producer.commit_transaction()
        except TimeoutError as error:
            raise _CommitUnknown(f"after {self._timeout_s:.0f} s") from error

    async def _aborted(self, producer: AIOKafkaProducer) -> bool:
        """Abort the open transaction at once if the broker answers (a record it refused, a
        slow acknowledgement): until then its partitions hold every committed reader back."""
        try:
            async with asyncio.timeout(min(2.0, self._timeout_s)):
                await producer.abort_transaction()
            return True
        except Exception as error:
            log.warning(
                "a failed transaction could not be aborted (%s); replacing its producer", error
            )
            return False

    def _discard(self, producer: AIOKafkaProducer) -> None:
        """Stop a producer whose transaction failed, in the background (the broker may be
        away); its successor fences it and aborts what it left open."""

        async def stop() -> None:
            try:
                await asyncio.wait_for(producer.stop(), self._timeout_s)
            except Exception as error:
                log.warning("a failed producer did not stop cleanly: %s", error)

        task = asyncio.get_running_loop().create_task(stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _claim(
        self,
        pool: asyncpg.Pool,
        unique: dict[Key, Event[EventData]],
        payloads: dict[Key, bytes],
    ) -> set[Key]:
        """Claim the keys not known yet, and those whose claim a crash left behind; raise
        Conflict for a known key with other content, Unavailable for one being published now."""
        hashes = {key: content_hash(payload) for key, payload in payloads.items()}
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """INSERT INTO gateway.accepted_events
                       (source, id, type, content_hash, published, claimed_at, agency_id)
                   SELECT s, i, t, h, false, now(), a
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                       AS u(s, i, t, h, a)
                   ON CONFLICT DO NOTHING RETURNING source, id""",
                [s for s, _ in unique],
                [i for _, i in unique],
                [e.type for e in unique.values()],
                list(hashes.values()),
                [e.agency for e in unique.values()],
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
