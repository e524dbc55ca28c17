"""A Kafka consumer whose effects and offsets commit together in PostgreSQL.

The handler writes its rows through the given connection; the runner adds the next offsets of
the batch in the same transaction. On start and on every rebalance it seeks to the stored
offsets, so a redelivered message changes nothing and a crash loses nothing.

A handler in two steps (`StagedHandler`) reads the next batch while the previous one commits:
`prepare` (no database) runs beside the transaction in flight, `write` in the batch's own.
Batches still commit one at a time, in the order taken.

No record and no outage stops it: a transient failure (the database or the broker away) is
retried with backoff; any other failure of a batch is retried record by record, and a record
that fails alone is parked in `public.parked_records` with its reason, byte for byte, in the
transaction that moves the offset past it.

Several instances of a consumer share its partitions through the group (issue 26, ADR 0005).
Each assignment claims its partitions in `public.consumer_offsets` (their epoch goes up by one)
and a transaction stores offsets only under the epoch its instance claimed: an instance that
lost a partition, paused or not, can never commit for it again (`Fenced`). A handler whose
state in memory is by agency (`AgencyKeeper`) holds the agencies whose home partition of the
inbound topic (the one their records are keyed to) it holds: a record of another agency (the
default agency keyed by subject, a derived record) is forwarded to the holder through
`public.forwarded_records`, and the keeper loads an agency's state when its home comes to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypeVar, runtime_checkable

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2

from mingdeng.contracts.text import shown
from mingdeng.runtime.clients import kafka_consumer
from mingdeng.runtime.faults import Backoff, is_transient
from mingdeng.runtime.statistics import FreshStatistics
from mingdeng.runtime.worker import GATHER_S

log = logging.getLogger(__name__)

RunnerState = Literal["starting", "running", "retrying", "stopped"]
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


BatchHandler = Callable[[asyncpg.Connection, Sequence[Record]], Awaitable[None]]
P = TypeVar("P")


@runtime_checkable
class StagedHandler(Protocol[P]):
    """A handler in two steps. `prepare` reads a batch into what `write` needs, touching no
    database (it may await, to let the previous batch's statements go on); `write` writes it in
    the batch's transaction. The runner prepares again for every attempt after a failure."""

    async def prepare(self, records: Sequence[Record]) -> P: ...

    async def write(self, connection: asyncpg.Connection, prepared: P) -> None: ...


@dataclass(frozen=True)
class _InOneStep:
    """A `BatchHandler` as a `StagedHandler`: nothing to prepare, it all happens in `write`."""

    handler: BatchHandler

    async def prepare(self, records: Sequence[Record]) -> Sequence[Record]:
        return records

    async def write(self, connection: asyncpg.Connection, prepared: Sequence[Record]) -> None:
        await self.handler(connection, prepared)


def home_partition(agency: str, partitions: int) -> int:
    """The partition of the inbound topic an agency's records are keyed to (Kafka's default
    partitioner: murmur2 of the key)."""
    hashed: int = murmur2(agency.encode())
    return (hashed & 0x7FFFFFFF) % partitions


AgencyFilter = Callable[[str], bool]


@runtime_checkable
class AgencyKeeper(Protocol):
    """A handler's state in memory, by agency: it holds the agencies whose home partition its
    runner holds, and only those (docs/decisions/0005)."""

    def agency_of(self, record: Record) -> str:
        """The agency a record belongs to (cheap: called for every record)."""
        ...

    def drop(self, agencies: AgencyFilter) -> None:
        """Forget the state of the agencies `agencies` accepts: another instance holds them."""
        ...

    async def load(self, connection: asyncpg.Connection, agencies: AgencyFilter) -> None:
        """Fold the state of the agencies `agencies` accepts from what was committed."""
        ...


class Fenced(Exception):
    """Another instance claimed these partitions since this one did: it may commit nothing
    for them, nor for the agencies whose home they are."""

    def __init__(self, partitions: Collection[tuple[str, int]]) -> None:
        super().__init__(f"claimed by another instance: {sorted(partitions)}")
        self.partitions = frozenset(partitions)


class _NotPrepared:
    """A batch not prepared ahead (its `prepare` failed, or a rebalance stored part of it)."""


NOT_PREPARED: Final = _NotPrepared()
# Called in the next transaction after one rolled back, so that a handler holding state in
# memory can fold it again from what was committed.
Reload = Callable[[asyncpg.Connection], Awaitable[None]]


class _Stopping(Exception):
    """Asked to stop while waiting out an outage."""


async def park(
    connection: asyncpg.Connection, consumer: str, record: Record, error: BaseException
) -> None:
    await connection.execute(
        """INSERT INTO public.parked_records
               (consumer, topic, partition, "offset", key, value, reason, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
        consumer,
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        type(error).__name__,
        shown(str(error), MAX_REASON_CHARS),
    )


async def store_offsets(
    connection: asyncpg.Connection, consumer: str, records: Sequence[Record]
) -> None:
    next_offsets: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
    await connection.executemany(
        """INSERT INTO public.consumer_offsets (consumer, topic, partition, next_offset)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (consumer, topic, partition)
           DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()""",
        [
            (consumer, topic, partition, offset)
            for (topic, partition), offset in next_offsets.items()
        ],
    )


async def claim(
    connection: asyncpg.Connection, consumer: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, tuple[int, int | None]]:
    """Take `partitions` for this instance: each one's epoch goes up by one, so that a commit
    under an earlier claim fails. Returns each one's new epoch and stored offset. Waits for a
    transaction of the previous holder that stores offsets of one, so the offset read is
    after it."""
    rows = await connection.fetch(
        """INSERT INTO public.consumer_offsets AS o (consumer, topic, partition, next_offset, epoch)
           SELECT $1, topic, partition, NULL, 1 FROM unnest($2::text[], $3::int[])
               AS claimed(topic, partition)
           ON CONFLICT (consumer, topic, partition)
           DO UPDATE SET epoch = o.epoch + 1
           RETURNING topic, partition, epoch, next_offset""",
        consumer,
        [p.topic for p in partitions],
        [p.partition for p in partitions],
    )
    return {
        TopicPartition(r["topic"], r["partition"]): (r["epoch"], r["next_offset"]) for r in rows
    }


async def store_claimed_offsets(
    connection: asyncpg.Connection,
    consumer: str,
    records: Sequence[Record],
    epochs: Mapping[tuple[str, int], int],
    also_held: Collection[tuple[str, int]] = (),
) -> None:
    """Store the next offsets of `records`' partitions, each under the epoch this instance
    claimed, and check that it still holds `also_held` (the homes of the agencies it applied
    records of); raise `Fenced` (the caller's transaction rolls back) for any another instance
    claimed since. The rows stay locked to the commit: a claim waits for it."""
    next_offsets: dict[tuple[str, int], int | None] = dict.fromkeys(also_held)
    for record in records:
        where = (record.topic, record.partition)
        next_offsets[where] = max(next_offsets.get(where) or 0, record.offset + 1)
    if not next_offsets:
        return
    wanted = sorted(next_offsets)
    rows = await connection.fetch(
        """UPDATE public.consumer_offsets AS o
           SET next_offset = coalesce(n.next_offset, o.next_offset), updated_at = now()
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])
               AS n(topic, partition, next_offset, epoch)
           WHERE o.consumer = $1 AND o.topic = n.topic AND o.partition = n.partition
             AND o.epoch = n.epoch
           RETURNING o.topic, o.partition""",
        consumer,
        [topic for topic, _ in wanted],
        [partition for _, partition in wanted],
        [next_offsets[where] for where in wanted],
        [epochs.get(where, -1) for where in wanted],
    )
    stored = {(r["topic"], r["partition"]) for r in rows}
    if len(stored) < len(wanted):
        raise Fenced(set(wanted) - stored)


async def forward(
    connection: asyncpg.Connection, consumer: str, records: Sequence[tuple[int, Record]]
) -> None:
    """Keep `records` (each with its home partition) for the instance holding their home."""
    await connection.executemany(
        """INSERT INTO public.forwarded_records (consumer, home, topic, partition, "offset", key,
               value, header_names, header_values, timestamp_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""",
        [
            (consumer, home, r.topic, r.partition, r.offset, r.key, r.value,
             [name for name, _ in r.headers], [raw for _, raw in r.headers], r.timestamp_ms)
            for home, r in records
        ],
    )  # fmt: skip


async def forwarded(
    connection: asyncpg.Connection, consumer: str, homes: Collection[int], limit: int
) -> list[Record]:
    """The oldest records forwarded to the holder of `homes`, in the order of their partitions."""
    rows = await connection.fetch(
        """SELECT topic, partition, "offset", key, value, header_names, header_values,
                  timestamp_ms
           FROM public.forwarded_records WHERE consumer = $1 AND home = ANY($2::int[])
           ORDER BY forwarded_at, topic, partition, "offset" LIMIT $3""",
        consumer,
        list(homes),
        limit,
    )
    return [
        Record(r["topic"], r["partition"], r["offset"], r["key"], r["value"], r["timestamp_ms"],
               tuple(zip(r["header_names"], r["header_values"], strict=True)))
        for r in rows
    ]  # fmt: skip


async def take_forwarded(
    connection: asyncpg.Connection, consumer: str, records: Sequence[Record]
) -> list[Record]:
    """Delete `records` from the forwarded ones; those that were still there, in order."""
    rows = await connection.fetch(
        """DELETE FROM public.forwarded_records AS f
           USING unnest($2::text[], $3::int[], $4::bigint[]) AS t(topic, partition, "offset")
           WHERE f.consumer = $1 AND f.topic = t.topic AND f.partition = t.partition
             AND f."offset" = t."offset"
           RETURNING f.topic, f.partition, f."offset" AS at""",
        consumer,
        [r.topic for r in records],
        [r.partition for r in records],
        [r.offset for r in records],
    )
    taken = {(r["topic"], r["partition"], r["at"]) for r in rows}
    return [r for r in records if (r.topic, r.partition, r.offset) in taken]


async def _ended(task: asyncio.Task[None]) -> None:
    """Wait for a task cancelled while the caller fails; its own failure is only logged."""
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        log.error("a batch failed as the consumer stopped", exc_info=task.exception())


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ProjectionRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._runner.release(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._runner.seek_to_stored(list(assigned))


PROGRESS_FROM = 10_000  # records behind: a rebuild or a long outage, worth telling


class ProjectionRunner:
    """Consume `topics` as group `consumer`, applying batches through `handler` transactionally."""

    def __init__(
        self,
        *,
        consumer: str,
        topics: Sequence[str],
        bootstrap_servers: str,
        pool: asyncpg.Pool,
        handler: BatchHandler | StagedHandler[Any],
        reload: Reload | None = None,
        max_batch: int = 500,
        retry_delay_s: float = 0.5,
        retry_ceiling_s: float = 10.0,
        schemas: Sequence[str] = (),
        instance: str | None = None,
        gather_s: float = GATHER_S,
        keeper: AgencyKeeper | None = None,
        home_topic: str | None = None,
    ) -> None:
        """`schemas`: where the handler's tables are, analyzed as they grow (`statistics`);
        `instance`: this replica's static member id in the group (KIP-345): a replica killed and
        started again is given its partitions back at once, where a new member would wait for
        the group to expire the killed one (its 10 s session, measured in
        bench/restart_trials.py); `keeper`: the handler's state by agency, whose agencies are
        homed on the partitions of `home_topic` (one of `topics`) this instance holds."""
        if (keeper is None) != (home_topic is None):
            raise ValueError("a keeper and its home topic go together")
        self.consumer_name = consumer
        self._topics = list(topics)
        self._bootstrap_servers = bootstrap_servers
        self._pool = pool
        self._handler: StagedHandler[Any] = (
            handler if isinstance(handler, StagedHandler) else _InOneStep(handler)
        )
        self._reload = reload
        self._keeper = keeper
        self._home_topic = home_topic
        self._home_count = 0  # partitions of the home topic, known at the first assignment
        self._homes: set[int] = set()  # the home partitions whose agencies the keeper holds
        self._to_load: set[int] = set()  # claimed homes whose agencies are not folded yet
        self._loading: asyncio.Task[None] | None = None  # folding `_to_load`
        self._revoking = False  # a revocation waits: no fold is started
        self._epochs: dict[tuple[str, int], int] = {}  # each held partition's claim
        self._released: dict[tuple[str, int], int] = {}  # the claims of the last revocation
        self._instance = instance
        self._must_reload = False
        self._max_batch = max_batch
        self._gather_s = gather_s
        self._last_take = (0.0, 0)  # when the last batch was taken, and its size
        self._backoff = Backoff(retry_delay_s, retry_ceiling_s)
        self._kafka = self._new_consumer()
        self.processed = 0
        # set once the log is read as far as it reached when first assigned (see _note_caught_up)
        self.caught_up = asyncio.Event()
        self._catch_up_to: dict[TopicPartition, int] = {}
        self.state: RunnerState = "starting"
        self.parked: Counter[str] = Counter()  # by reason, since the start
        self.lag: dict[TopicPartition, int] = {}
        self._started_at = time.time()
        self._newest_taken_s: float | None = None  # timestamp of the newest record taken
        self._progress = (time.monotonic(), 0)  # when it was last told, and how far it was
        self._applying = asyncio.Lock()  # a batch being applied, or an assignment's seek
        self._next_offsets: dict[tuple[str, int], int] = {}  # as stored with the rows
        self.statistics = FreshStatistics(schemas)

    def _new_consumer(self) -> AIOKafkaConsumer:
        return kafka_consumer(
            self._bootstrap_servers,
            group_id=self.consumer_name,
            client_id=self.consumer_name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            group_instance_id=self._instance,
        )

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    def behind_s(self) -> float:
        """How old the newest record taken is while more wait; 0 when caught up."""
        if self.total_lag == 0 and self.state != "retrying":
            return 0.0
        return max(0.0, time.time() - (self._newest_taken_s or self._started_at))

    def holds(self, agency: str) -> bool:
        """Whether this instance holds the agency: it alone publishes its views and runs its
        schedules. False during a rebalance, and until the agency's state is folded (a
        partial fold would publish a departed member's pairings, schedule for no one)."""
        if self._home_topic is None or not self._home_count:
            return False
        home = home_partition(agency, self._home_count)
        return home in self._homes and (self._home_topic, home) in self._epochs

    async def release(self, partitions: list[TopicPartition]) -> None:
        """On a revocation: the batch being applied commits first; nothing more is applied for
        `partitions` (records fetched for them are dropped) until they are claimed again. A
        fold of agencies taken over is abandoned: the group waits for no fold."""
        self._revoking = True
        if self._loading is not None:
            self._loading.cancel()
        async with self._applying:
            self._revoking = False
            for partition in partitions:
                where = (partition.topic, partition.partition)
                if where in self._epochs:
                    self._released[where] = self._epochs.pop(where)

    async def seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        """On an assignment: claim the partitions and go on from the offsets stored with the
        rows. A rebalance can come while a batch is being applied; it waits for that batch to
        commit, and records fetched before it that are stored already are not applied twice
        (see `_unapplied`). A keeper folds the agencies of the homes it gained, and of those
        it kept but another instance claimed in between, before its next batch."""
        async with self._applying, self._pool.acquire() as connection:
            async with connection.transaction():
                claims = await claim(connection, self.consumer_name, partitions)
            continuous: set[tuple[str, int]] = set()
            for partition, (epoch, offset) in claims.items():
                where = (partition.topic, partition.partition)
                if self._released.get(where, self._epochs.get(where)) == epoch - 1:
                    continuous.add(where)
                self._epochs[where] = epoch
                self._next_offsets[where] = offset or 0
                if offset is not None:
                    self._kafka.seek(partition, offset)
                else:
                    await self._kafka.seek_to_beginning(partition)
            self._released.clear()
            if self._keeper is not None:
                self._rehome(continuous)

    def _rehome(self, continuous: set[tuple[str, int]]) -> None:
        """The agencies of the homes kept without a claim of another instance in between keep
        their state; the others are forgotten, and those of the homes held now are folded
        before the next batch (`_taken_over`), not here: a fold of a long history inside the
        rebalance, without heartbeats, would make the group drop this member."""
        assert self._keeper is not None and self._home_topic is not None
        self._home_count = len(self._kafka.partitions_for_topic(self._home_topic) or ())
        held = {p for topic, p in self._epochs if topic == self._home_topic}
        kept = {p for p in self._homes & held if (self._home_topic, p) in continuous}
        lost = (self._homes | self._to_load) - kept
        if lost:
            self._keeper.drop(self._homed(lost))
        self._homes, self._to_load = kept, held - kept

    async def _taken_over(self, stop: asyncio.Event) -> bool:
        """Fold the agencies of the homes held but not folded yet (taken over, or forgotten
        after a transaction rolled back), from what was committed: their previous holder's
        commits came before the claim. False when a revocation stopped it."""
        assert self._keeper is not None
        while homes := {p for p in self._to_load if (self._home_topic, p) in self._epochs}:
            if self._revoking:
                return False
            started = time.monotonic()
            self._loading = loading = asyncio.create_task(self._load(homes))
            try:
                await asyncio.wait([loading])
            except BaseException:
                loading.cancel()
                raise
            finally:
                self._loading = None
            if not loading.cancelled() and loading.exception() is None:
                self._answered()  # an idle instance has no commit to tell it
                self._homes |= homes
                self._to_load -= homes
                log.info("%s: took over the agencies of partitions %s in %.1f s",
                         self.consumer_name, sorted(homes), time.monotonic() - started)  # fmt: skip
                continue
            self._keeper.drop(self._homed(homes))  # what was folded in part
            if loading.cancelled():
                return False
            error = loading.exception()
            assert error is not None
            if not is_transient(error):
                raise error
            await self._wait_out(error, stop, "the database")
        return True

    async def _load(self, homes: Collection[int]) -> None:
        assert self._keeper is not None
        async with self._pool.acquire() as connection:
            await self._keeper.load(connection, self._homed(homes))

    def _forget_held(self) -> None:
        """After a transaction rolled back: the keeper's memory may hold what it applied, not
        the rows; its agencies are folded again before anything more is applied."""
        assert self._keeper is not None
        self._keeper.drop(self._homed(self._homes))
        self._to_load |= self._homes
        self._homes = set()

    def _homed(self, homes: Collection[int]) -> AgencyFilter:
        count = self._home_count
        return lambda agency: home_partition(agency, count) in homes

    def _held_homes(self) -> list[tuple[str, int]]:
        return [(t, p) for t, p in self._epochs if t == self._home_topic]

    def _unapplied(self, records: list[Record]) -> list[Record]:
        return [
            r
            for r in records
            if (r.topic, r.partition) in self._epochs
            and r.offset >= self._next_offsets.get((r.topic, r.partition), 0)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except _Stopping:
                    return
                except Exception as error:
                    if not is_transient(error):
                        raise
                    await self._wait_out(error, stop, "the broker")
                    self._kafka = self._new_consumer()  # a consumer that failed is not reused
        finally:
            self.state = "stopped"
            self._epochs.clear()  # a stopped instance holds nothing
            await self.statistics.stop()

    async def _consume(self, stop: asyncio.Event) -> None:
        committing: asyncio.Task[None] | None = None  # the previous batch, while it commits
        try:
            await self._kafka.start()
            self._kafka.subscribe(self._topics, listener=_SeekToStoredOffsets(self))
            self.state = "running"
            while not stop.is_set():
                records = await self._take()
                prepared = await self._prepare_ahead(records)
                if committing is not None:
                    previous, committing = committing, None
                    await previous
                if self._keeper is not None:
                    await self._apply_forwarded(stop)
                if records:
                    committing = asyncio.create_task(self._apply_in_turn(records, prepared, stop))
                    self._newest_taken_s = max(r.timestamp_ms for r in records) / 1000
                await self._measure_lag()
                self._tell_progress()
                await self._note_caught_up()
        except BaseException:
            if committing is not None:
                committing.cancel()  # as a crash would: its transaction rolls back
                await _ended(committing)
                committing = None
            raise
        finally:
            if committing is not None:
                await committing  # asked to stop: what was taken commits first
            await self._kafka.stop()

    async def _note_caught_up(self) -> None:
        """Caught up: every assigned partition is read up to its end as the first fetch after
        its assignment told it (the batch just taken may still be committing). Not "a poll
        found nothing": under steady traffic none does, and the first poll after an assignment
        may find nothing before the first fetch."""
        assigned = self._kafka.assignment()
        if self.caught_up.is_set() or not assigned:
            return
        for partition in assigned:
            if partition not in self._catch_up_to:
                end = self._log_end(partition)
                if end is None:
                    return  # not fetched yet
                self._catch_up_to[partition] = end
            if await self._kafka.position(partition) < self._catch_up_to[partition]:
                return
        self.caught_up.set()

    def _log_end(self, partition: TopicPartition) -> int | None:
        """Where the partition ends, as its last fetch told (None before the first)."""
        end: int | None = self._kafka.last_stable_offset(partition)
        if end is None or end < 0:
            end = self._kafka.highwater(partition)
        return end

    async def _take(self) -> list[Record]:
        taken_at, size = self._last_take
        gathering = taken_at + self._gather_s - time.monotonic()
        if size and size < self._max_batch and self.total_lag == 0 and gathering > 0:
            await asyncio.sleep(gathering)
        batches = await self._kafka.getmany(timeout_ms=500, max_records=self._max_batch)
        self._last_take = (time.monotonic(), sum(len(m) for m in batches.values()))
        return [
            Record(
                m.topic, m.partition, m.offset, m.key, m.value, m.timestamp, tuple(m.headers or ())
            )
            for messages in batches.values()
            for m in messages
        ]

    async def _prepare_ahead(self, records: list[Record]) -> Any:
        """What the handler makes of `records`, while the batch before commits. A failure is
        not told here: the batch meets it again when it is applied, and is taken apart."""
        if not records:
            return NOT_PREPARED
        try:
            return await self._handler.prepare(records)
        except Exception:
            return NOT_PREPARED

    async def _apply_forwarded(self, stop: asyncio.Event) -> None:
        """Apply what other instances forwarded to the agencies this one holds."""
        async with self._applying:
            homes = [p for _, p in self._held_homes()]
            if not homes or not await self._taken_over(stop):
                return
            async with self._pool.acquire() as connection:
                records = await forwarded(connection, self.consumer_name, homes, self._max_batch)
            self._answered()
            await self._apply(records, NOT_PREPARED, stop, from_forwarded=True)

    async def _apply_in_turn(
        self, records: list[Record], prepared: Any, stop: asyncio.Event
    ) -> None:
        async with self._applying:
            unapplied = self._unapplied(records)
            if len(unapplied) < len(records):
                prepared = NOT_PREPARED
            await self._apply(unapplied, prepared, stop)

    def _tell_progress(self, every_s: float = 5.0, behind: int = PROGRESS_FROM) -> None:
        """While far behind (a rebuild, a long outage), say every few seconds how far it is."""
        now = time.monotonic()
        told_at, processed = self._progress
        if now - told_at < every_s:
            return
        self._progress = (now, self.processed)
        if self.total_lag >= behind:
            rate = (self.processed - processed) / (now - told_at)
            minutes = self.total_lag / rate / 60 if rate else float("inf")
            log.info(
                "%s: %s records taken, %s behind, %s/s (about %.0f min to go)",
                self.consumer_name,
                f"{self.processed:,}",
                f"{self.total_lag:,}",
                f"{rate:,.0f}",
                minutes,
            )

    async def _measure_lag(self) -> None:
        lag = {}
        for partition in self._kafka.assignment():
            end = self._log_end(partition)
            if end is None:
                continue  # not fetched yet
            position = await self._kafka.position(partition)
            lag[partition] = max(0, end - position)
        self.lag = lag

    async def _apply(
        self,
        records: list[Record],
        prepared: Any,
        stop: asyncio.Event,
        from_forwarded: bool = False,
    ) -> None:
        if not records:
            return
        try:
            await self._commit(records, stop, prepared, from_forwarded)
        except _Stopping:
            raise
        except Exception as error:
            if len(records) == 1:
                await self._park(records[0], error, stop, from_forwarded)
                return
            log.warning(
                "%s: a batch of %d failed (%s: %s); taking its records one by one",
                self.consumer_name,
                len(records),
                type(error).__name__,
                error,
            )
            for record in records:
                try:
                    await self._commit([record], stop, NOT_PREPARED, from_forwarded)
                except _Stopping:
                    raise
                except Exception as single:
                    await self._park(record, single, stop, from_forwarded)

    async def _commit(
        self,
        records: Sequence[Record],
        stop: asyncio.Event,
        prepared: Any = NOT_PREPARED,
        from_forwarded: bool = False,
    ) -> None:
        """Apply and store the offsets (or take the forwarded records) in one transaction,
        waiting out outages; a permanent failure is raised. Partitions another instance
        claimed meanwhile are given up: their records are not applied here."""
        while True:
            if self._keeper is not None and not await self._taken_over(stop):
                return  # revoked meanwhile: fetched again from the stored offsets
            try:
                if prepared is NOT_PREPARED and self._keeper is None:
                    prepared = await self._handler.prepare(records)
                async with self._pool.acquire() as connection, connection.transaction():
                    if self._must_reload and self._reload is not None:
                        await self._reload(connection)
                    self._must_reload = False
                    if self._keeper is None:
                        await self._handler.write(connection, prepared)
                    else:
                        await self._apply_held(connection, records, from_forwarded)
                    await store_claimed_offsets(
                        connection,
                        self.consumer_name,
                        () if from_forwarded else records,
                        self._epochs,
                        self._held_homes(),
                    )
                if not from_forwarded:
                    self._stored(records)
                self.processed += len(records)
                self._answered()
                break
            except Fenced as fenced:
                self._failed()
                prepared = NOT_PREPARED
                self._give_up(fenced.partitions)
                records = [] if from_forwarded else self._unapplied(list(records))
                if not records:
                    return
            except Exception as error:
                self._failed()  # the handler may have changed memory, not rows
                prepared = NOT_PREPARED  # nor trust what it prepared
                if not is_transient(error):
                    raise
                await self._wait_out(error, stop, "the database")
        self.statistics.keep_up(self._pool)

    async def _apply_held(
        self, connection: asyncpg.Connection, records: Sequence[Record], from_forwarded: bool
    ) -> None:
        """A keeper's batch: the records of agencies held here are applied, the others kept
        for their holder; forwarded records are applied once, as they are taken."""
        assert self._keeper is not None
        if from_forwarded:
            held = await take_forwarded(connection, self.consumer_name, records)
        else:
            held, elsewhere = [], []
            for record in records:
                home = home_partition(self._keeper.agency_of(record), self._home_count)
                if (self._home_topic, home) in self._epochs:
                    held.append(record)
                else:
                    elsewhere.append((home, record))
            await forward(connection, self.consumer_name, elsewhere)
        if held:
            await self._handler.write(connection, await self._handler.prepare(held))

    def _failed(self) -> None:
        if self._keeper is not None:
            self._forget_held()
        else:
            self._must_reload = True

    def _give_up(self, partitions: Collection[tuple[str, int]]) -> None:
        log.warning("%s: %s claimed by another instance; given up", self.consumer_name,
                    sorted(partitions))  # fmt: skip
        for where in partitions:
            self._epochs.pop(where, None)
        if self._keeper is not None:
            lost = {p for topic, p in partitions if topic == self._home_topic}
            if lost & self._homes:
                self._keeper.drop(self._homed(lost & self._homes))
            self._homes -= lost
            self._to_load -= lost

    def _stored(self, records: Sequence[Record]) -> None:
        for record in records:
            where = (record.topic, record.partition)
            self._next_offsets[where] = max(self._next_offsets.get(where, 0), record.offset + 1)

    async def _park(
        self,
        record: Record,
        error: BaseException,
        stop: asyncio.Event,
        from_forwarded: bool = False,
    ) -> None:
        log.error(
            "%s: parked %s[%d]@%d: %s: %s",
            self.consumer_name,
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            shown(str(error), 500),
        )
        while True:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    await park(connection, self.consumer_name, record, error)
                    if from_forwarded:
                        await take_forwarded(connection, self.consumer_name, [record])
                    await store_claimed_offsets(
                        connection,
                        self.consumer_name,
                        () if from_forwarded else [record],
                        self._epochs,
                        self._held_homes(),
                    )
                if not from_forwarded:
                    self._stored([record])
                self.parked[type(error).__name__] += 1
                return
            except Fenced as fenced:
                self._give_up(fenced.partitions)
                return
            except Exception as failure:
                if not is_transient(failure):
                    raise
                await self._wait_out(failure, stop, "the database")

    def _answered(self) -> None:
        """The database answered: running again after an outage (readiness follows)."""
        self._backoff.reset()
        if self.state == "retrying":
            log.info("%s: the database answers again", self.consumer_name)
            self.state = "running"

    async def _wait_out(self, error: BaseException, stop: asyncio.Event, what: str) -> None:
        self.state = "retrying"
        delay = self._backoff.next_delay()
        log.warning(
            "%s: %s is unavailable (%s: %s); again in %.1f s",
            self.consumer_name,
            what,
            type(error).__name__,
            error,
            delay,
        )
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return  # waited: try again
        raise _Stopping
