"""The partitioned transactional runner: one input topic in, a task's outputs and its input
offsets out in one Kafka transaction, under a transactional id of the task's own.

A *task* holds the state of the input partitions it reads (`Task`; scoring's is its service).
Two ways to cut the input into tasks:
- `partitioned`: a task per partition, shared by the workers of the consumer group (subscribe);
  each task's transactional id is `{transactional_id}.p{partition}` (the EOS-v1 pattern of
  Kafka Streams, KIP-129: aiokafka has no KIP-447). A worker given a partition starts that
  task's producer first, which fences the previous owner's producer and completes or aborts its
  open transaction, and only then reads the committed offset: a zombie (a worker paused while
  its partitions moved) fails at its next transaction, and nothing it took is committed twice.
- whole: one task over every partition, one worker (assign), transactional id
  `{transactional_id}`, for a task whose state needs all partitions (scoring's default agency
  keyed by subject, ADR 0002).

A task's checkpoint is written by a forked child to a spool file, then to the compacted
changelog topic (`runtime.changelog`), where the next owner, on any machine, restores it and
replays what lies between it and the committed offsets without publishing it again.
A session that fails (Kafka away, a fenced producer, a bug) ends; the next one starts from the
checkpoints and committed offsets after a growing pause.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from mingdeng.contracts.topics import Topic
from mingdeng.runtime.changelog import ChangelogStore
from mingdeng.runtime.checkpoints import CheckpointFile
from mingdeng.runtime.clients import kafka_consumer, kafka_producer
from mingdeng.runtime.faults import is_refused_record
from mingdeng.runtime.health import kafka_answers
from mingdeng.runtime.worker import GATHER_S, pause

log = logging.getLogger(__name__)
Header = tuple[str, bytes]


@dataclass(frozen=True)
class InboundRecord:
    """One record of the input topic, as Kafka gave it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True)
class Publication:
    """A record to publish. `value` None is a tombstone; `partition` None means by key."""

    topic: Topic
    key: bytes
    value: bytes | None
    partition: int | None = None
    headers: tuple[Header, ...] = ()


def inbound(message: Any) -> InboundRecord:
    """An aiokafka ConsumerRecord as a task takes it."""
    return InboundRecord(
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=message.timestamp,
        headers=tuple(message.headers or ()),
    )


class Task(Protocol):
    """The state of some input partitions: records in, publications out."""

    whole_dead_letters: bool

    @property
    def replaying(self) -> bool: ...
    @property
    def has_unpublished_changes(self) -> bool: ...
    @property
    def owes_publications(self) -> bool: ...
    @property
    def blocked_partitions(self) -> set[int]: ...

    def take(self, records: list[InboundRecord]) -> list[Publication]: ...
    def due(self, now: datetime) -> list[Publication]: ...
    def publish_changes(self, *, everything: bool = False) -> list[Publication]: ...
    def next_offsets(self) -> dict[int, int]: ...
    def replaying_until(self, offsets: dict[int, int]) -> None: ...
    def checkpoint(self) -> bytes: ...


class TaskFactory(Protocol):
    def task(
        self,
        partitions: tuple[int, ...],
        of: int,
        checkpoint: bytes | None,
        committed: dict[int, int],
    ) -> tuple[Task, dict[int, int]]:
        """A task for these partitions (of `of` the topic has), from its checkpoint if it can
        use it, and the offset to read each partition from (not named: its beginning)."""
        ...


@dataclass(frozen=True)
class StreamSettings:
    name: str  # metric names, client ids
    topic: str  # the input topic (with its prefix)
    changelog_topic: str
    group: str
    transactional_id: str
    outputs: Callable[[Topic], str]  # an output topic's name (with its prefix)
    bootstrap_servers: str
    partitioned: bool
    spool_dir: Path
    max_batch: int = 5000
    due_interval_s: float = 60
    checkpoint_every_s: float = 30
    checkpoint_every_records: int = 100_000
    ready_max_lag: int = 10_000
    retry_backoff_max_s: float = 30
    session_timeout_ms: int = 6000


class StreamMetrics:
    def __init__(self, name: str) -> None:
        self.registry = CollectorRegistry()
        prefix = f"mingdeng_{name}"
        self.records = Counter(f"{prefix}_records", "inbound records taken", registry=self.registry)
        self.publications = Counter(
            f"{prefix}_publications",
            "records published, by topic",
            ["topic"],
            registry=self.registry,
        )
        self.transactions = Counter(
            f"{prefix}_transactions", "transactions committed", registry=self.registry
        )
        self.failures = Counter(
            f"{prefix}_session_failures", "sessions ended by an error", registry=self.registry
        )
        self.lag = Gauge(
            f"{prefix}_consumer_lag",
            "inbound records not yet taken, by partition",
            ["partition"],
            registry=self.registry,
        )
        self.blocked = Gauge(
            f"{prefix}_partitions_at_barrier",
            "partitions held at a barrier",
            registry=self.registry,
        )
        self.tasks = Gauge(f"{prefix}_tasks", "tasks this worker runs", registry=self.registry)
        self.checkpoint_age = Gauge(
            f"{prefix}_checkpoint_age_seconds",
            "seconds since the oldest task's last checkpoint",
            registry=self.registry,
        )
        self.checkpoint_seconds = Gauge(
            f"{prefix}_checkpoint_duration_seconds",
            "how long the last checkpoint took to take",
            registry=self.registry,
        )
        self.ready = Gauge(f"{prefix}_ready", "1 when live and caught up", registry=self.registry)
        self.longest_busy = Gauge(
            f"{prefix}_longest_busy_seconds",
            "the longest a batch kept the event loop busy (no heartbeat meanwhile): keep it"
            " well below the group's session",
            registry=self.registry,
        )


@dataclass
class _Slot:
    """A task this worker runs, with its producer and where it stands."""

    key: str  # "all", or "p{partition}"
    partitions: tuple[int, ...]
    producer: AIOKafkaProducer
    task: Task
    committed: dict[int, int]
    # per partition, the offset after the last record given to the task: where it is read from
    # (a rebalance starts every assigned partition at its committed offset, which is further
    # on while the task replays; see `own`)
    fed: dict[int, int]
    opened_at: float = field(default_factory=time.monotonic)
    last_checkpoint: float = field(default_factory=time.monotonic)
    since_checkpoint: int = 0
    checkpointing: asyncio.Task[None] | None = None
    paused: set[int] = field(default_factory=set)
    next_due: float = 0.0

    @property
    def changelog_partition(self) -> int:
        return self.partitions[0] if len(self.partitions) == 1 else 0


def _retrieved(delivery: asyncio.Future[Any]) -> None:
    if not delivery.cancelled():
        delivery.exception()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: StreamRunner, consumer: AIOKafkaConsumer) -> None:
        self._runner, self._consumer = runner, consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._runner.stepping:  # no step of ours is left half-way,
            self._runner.rebalancing = True  # and none is taken until `own` has run

    async def on_partitions_assigned(self, assigned: Any) -> None:
        try:
            await self._runner.own(self._consumer, {tp.partition for tp in assigned})
        except Exception as error:  # aiokafka would only log it: the session ends with it
            self._runner.assignment_failure = error


class StreamRunner:
    def __init__(
        self,
        settings: StreamSettings,
        factory: TaskFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.clock = clock
        self.metrics = StreamMetrics(settings.name)
        self.changelog = ChangelogStore(settings.bootstrap_servers, settings.changelog_topic)
        self.slots: dict[str, _Slot] = {}
        self.slot_of: dict[int, _Slot] = {}
        self.stepping = asyncio.Lock()  # a task's step, or a change of the tasks owned
        # between a revocation and the next assignment: no partition is owned for sure, and
        # the consumer's positions are about to be reset
        self.rebalancing = False
        self.assignment_failure: Exception | None = None  # raised by the session's loop
        self.longest_busy_s = 0.0
        self.live = False
        self.lag: dict[int, int] = {}
        self._checkpoint_producer: AIOKafkaProducer | None = None
        self._refused = False  # the broker refused a record of the last batch as too large

    # --- health ---------------------------------------------------------------------------

    def consumer_checks(self) -> dict[str, bool]:
        owned = set(self.slot_of)
        caught_up = (
            self.live
            and bool(owned)
            and not any(slot.task.replaying for slot in self.slots.values())
            and owned <= self.lag.keys()  # every partition's end is known
            and sum(self.lag[p] for p in owned) <= self.settings.ready_max_lag
        )
        return {"consuming": self.live, "caught_up": caught_up}

    async def readiness(self) -> dict[str, bool]:
        return {
            "kafka": await kafka_answers(self.settings.bootstrap_servers),
            **self.consumer_checks(),
        }

    async def metrics_text(self) -> str:
        self.metrics.ready.set(1 if all(self.consumer_checks().values()) else 0)
        if self.slots:
            oldest = min(slot.last_checkpoint for slot in self.slots.values())
            self.metrics.checkpoint_age.set(time.monotonic() - oldest)
        return generate_latest(self.metrics.registry).decode()

    # --- sessions -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Sessions until stopped; after a failure, the next one after a growing pause."""
        backoff = 1.0
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._session(stop)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.metrics.failures.inc()
                # a record of the batch refused as too large: the batch is taken again with
                # dead letters that only refer to their records
                self._refused = is_refused_record(error)
                log.exception(
                    "%s session failed; starting again in %.0f s", self.settings.name, backoff
                )
            if time.monotonic() - started > 60:
                backoff = 1.0
            await pause(stop, backoff)
            backoff = min(backoff * 2, self.settings.retry_backoff_max_s)

    async def _session(self, stop: asyncio.Event) -> None:
        settings = self.settings
        consumer = kafka_consumer(
            settings.bootstrap_servers,
            group_id=settings.group,
            client_id=settings.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=settings.session_timeout_ms,
            # a heartbeat a second: a member learns of a rebalance (a failover) within one
            heartbeat_interval_ms=max(500, min(1000, settings.session_timeout_ms // 3)),
        )
        self._checkpoint_producer = kafka_producer(
            settings.bootstrap_servers,
            client_id=f"{settings.name}-checkpoints",
            enable_idempotence=True,
            acks="all",
            max_batch_size=1024 * 1024,
        )
        self.slots, self.slot_of, self.lag = {}, {}, {}  # a session starts owning nothing
        self.rebalancing, self.assignment_failure = False, None
        await consumer.start()
        try:
            await self._checkpoint_producer.start()
            if settings.partitioned:
                consumer.subscribe([settings.topic], listener=_Rebalance(self, consumer))
            else:
                partitions = await self._partitions(self._checkpoint_producer)
                consumer.assign([TopicPartition(settings.topic, p) for p in partitions])
                await self.own(consumer, partitions)
            self.live = True
            failed = True
            try:
                await self._consume(consumer, stop)
                failed = False
            finally:
                self.live = False
                async with self.stepping:
                    # in a rebalance the partitions may be another worker's already: their
                    # next owner publishes what the tasks owe (from their checkpoints)
                    flush = not failed and not self.rebalancing
                    await self._close_slots(list(self.slots), flush=flush)
        finally:
            await self._checkpoint_producer.stop()
            await consumer.stop()

    async def _partitions(self, producer: AIOKafkaProducer) -> set[int]:
        try:
            return set(await producer.partitions_for(self.settings.topic))
        except KafkaError as error:
            raise LookupError(
                f"{self.settings.topic}: {error}; create it with `mingdeng topics`"
            ) from error

    # --- owning tasks ---------------------------------------------------------------------

    async def own(self, consumer: AIOKafkaConsumer, partitions: set[int]) -> None:
        """The tasks of these partitions from now on: the others closed, the new ones opened
        (their producer fences the previous owner, then the committed offsets are read; all at
        once, as a failover waits for them), the kept ones read on from where they stand."""
        started = time.monotonic()
        wanted = (
            {f"p{p}": (p,) for p in partitions}
            if self.settings.partitioned
            else {"all": tuple(sorted(partitions))}
        )
        async with self.stepping:
            stale = [key for key in self.slots if key not in wanted]
            for key, slot in self.slots.items():
                # kept, but another worker committed for it meanwhile (this one was paused
                # through a generation of the group): its state is behind, open it again
                for p in slot.partitions:
                    tp = TopicPartition(self.settings.topic, p)
                    if key in wanted and await consumer.committed(tp) != slot.committed.get(p):
                        stale.append(key)
                        break
            await self._close_slots(stale, flush=False)
            async with asyncio.TaskGroup() as opening:
                for key, parts in sorted(wanted.items()):
                    if key in self.slots:
                        self._read_on(consumer, self.slots[key])
                    else:
                        opening.create_task(self._open_slot(consumer, key, parts))
            self.rebalancing = False
        self.metrics.tasks.set(len(self.slots))
        log.info(
            "%s runs the tasks %s (taken on in %.2f s)",
            self.settings.name,
            sorted(self.slots),
            time.monotonic() - started,
        )

    async def _open_slot(
        self, consumer: AIOKafkaConsumer, key: str, parts: tuple[int, ...]
    ) -> None:
        settings = self.settings
        suffix = "" if key == "all" else f".{key}"
        producer = kafka_producer(
            settings.bootstrap_servers,
            client_id=f"{settings.name}{suffix}",
            transactional_id=settings.transactional_id + suffix,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            max_batch_size=512 * 1024,
            # a transaction begun just after a commit can meet the coordinator still writing
            # its markers (CONCURRENT_TRANSACTIONS): retry within milliseconds, not the 100 ms
            # default, or each such stall lands on the freshness of the outputs
            retry_backoff_ms=10,
        )
        await producer.start()  # InitProducerId: the previous owner is fenced from here on
        try:
            tps = [TopicPartition(settings.topic, p) for p in parts]
            committed: dict[int, int] = {}
            for tp in tps:
                offset = await consumer.committed(tp)
                if offset is not None:
                    committed[tp.partition] = offset
            stored = await self.changelog.load(key, parts[0] if len(parts) == 1 else 0)
            of = len(consumer.partitions_for_topic(settings.topic) or parts)
            task, start = self.factory.task(parts, of, stored[0] if stored else None, committed)
            beginnings = await consumer.beginning_offsets(tps)
        except BaseException:
            await producer.stop()
            raise
        fed = {tp.partition: max(start.get(tp.partition, 0), beginnings[tp]) for tp in tps}
        task.replaying_until(committed)
        task.whole_dead_letters = not self._refused
        slot = _Slot(key, parts, producer, task, committed, fed)
        self._read_on(consumer, slot)
        self.slots[key] = slot
        for p in parts:
            self.slot_of[p] = slot
            self.lag.pop(p, None)
        log.info(
            "task %s from %s (committed %s)", key, start or "the beginning", committed or "nothing"
        )

    def _read_on(self, consumer: AIOKafkaConsumer, slot: _Slot) -> None:
        """Read the slot's partitions from where its task stands. A kept task needs it too:
        aiokafka starts every partition of a new assignment at its committed offset, which
        for a task still replaying lies past records it has not taken yet (they would be
        skipped), and which the partitions it holds paused are no longer."""
        for p in slot.partitions:
            tp = TopicPartition(self.settings.topic, p)
            consumer.seek(tp, slot.fed[p])
            consumer.resume(tp)
        slot.paused = set()

    async def _close_slots(self, keys: list[str], *, flush: bool) -> None:
        """Stop running these tasks; with `flush` (a worker that stops), publish what they owe
        first. Every one is closed even when one fails; the first failure is raised after."""
        closing = [self.slots.pop(key) for key in keys if key in self.slots]
        for slot in closing:
            for p in slot.partitions:
                self.slot_of.pop(p, None)
                self.lag.pop(p, None)
                self.metrics.lag.labels(str(p)).set(0)
        failure: BaseException | None = None
        for slot in closing:
            try:
                if flush and not slot.task.replaying and slot.task.owes_publications:
                    await self._transaction(slot, [], [], everything=True)
                if slot.checkpointing is not None:
                    await slot.checkpointing  # a child writing: seconds at most
            except Exception as error:
                failure = failure or error
            finally:
                try:
                    await slot.producer.stop()
                except Exception as error:
                    log.warning("task %s: its producer did not stop cleanly: %s", slot.key, error)
        if failure is not None:
            raise failure

    # --- consuming ------------------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        settings = self.settings
        taken_at, size = 0.0, 0  # the last batch: when, and how many records
        while not stop.is_set():
            if self.assignment_failure is not None:
                raise self.assignment_failure
            gathering = taken_at + GATHER_S - time.monotonic()
            caught_up = not any(self.lag.values())
            if size and size < settings.max_batch and caught_up and gathering > 0:
                await asyncio.sleep(gathering)  # a transaction per batch: see GATHER_S
            batches = await consumer.getmany(timeout_ms=100, max_records=settings.max_batch)
            taken_at, size = time.monotonic(), sum(len(m) for m in batches.values())
            taken: dict[str, list[InboundRecord]] = {}
            for tp, messages in batches.items():
                slot = self.slot_of.get(tp.partition)
                if slot is None:  # fetched before the partition went to another worker
                    continue
                taken.setdefault(slot.key, []).extend(inbound(m) for m in messages)
            for slot in list(self.slots.values()):
                records = sorted(taken.get(slot.key, []), key=lambda r: (r.partition, r.offset))
                async with self.stepping:
                    # not in a rebalance, nor moved to another worker meanwhile (what was
                    # fetched before a rebalance is fetched again: see `_read_on`)
                    if not self.rebalancing and self.slots.get(slot.key) is slot:
                        await self._step(consumer, slot, records)

    async def _step(
        self, consumer: AIOKafkaConsumer, slot: _Slot, records: list[InboundRecord]
    ) -> None:
        task = slot.task
        # taken already: fetched before a rebalance, stepped after it, then read again
        records = [r for r in records if r.offset >= slot.fed[r.partition]]
        for record in records:
            slot.fed[record.partition] = record.offset + 1
        due: list[Publication] = []
        if not task.replaying and time.monotonic() >= slot.next_due:
            due = task.due(self.clock())
            slot.next_due = time.monotonic() + self.settings.due_interval_s
        catching_up = task.replaying
        settled = not catching_up and task.has_unpublished_changes
        if records or due or settled:
            await self._transaction(slot, records, due)
            if catching_up and not task.replaying:
                log.info(
                    "task %s replayed up to %s in %.2f s; live from here",
                    slot.key,
                    slot.committed,
                    time.monotonic() - slot.opened_at,
                )
            self.metrics.records.inc(len(records))
            slot.since_checkpoint += len(records)
        tps = {p: TopicPartition(self.settings.topic, p) for p in slot.partitions}
        blocked = task.blocked_partitions
        if blocked != slot.paused:
            consumer.resume(*(tps[p] for p in slot.paused - blocked))
            consumer.pause(*(tps[p] for p in blocked - slot.paused))
            slot.paused = blocked
            self.metrics.blocked.set(sum(len(s.paused) for s in self.slots.values()))
        offsets = task.next_offsets()
        for p, tp in tps.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                position = offsets.get(p, 0)
                if p not in blocked:  # past transaction markers too
                    position = max(position, await consumer.position(tp))
                self.lag[p] = max(0, highwater - position)
                self.metrics.lag.labels(str(p)).set(self.lag[p])
        if self._checkpoint_due(slot) and not task.replaying:
            self._start_checkpoint(slot)

    async def _transaction(
        self,
        slot: _Slot,
        records: list[InboundRecord],
        due: list[Publication],
        *,
        everything: bool = False,
    ) -> None:
        producer, task = slot.producer, slot.task
        async with producer.transaction():
            busy_since = time.monotonic()
            publications = task.take(records) + due + task.publish_changes(everything=everything)
            self._busy(time.monotonic() - busy_since)
            sent = []
            for p in publications:
                delivery = await producer.send(
                    self.settings.outputs(p.topic),
                    key=p.key,
                    value=p.value,
                    partition=p.partition,
                    headers=list(p.headers) or None,
                )
                # a failed transaction fails as a whole (raised below): its deliveries' own
                # errors are the same failure, not to be reported again as never retrieved
                delivery.add_done_callback(_retrieved)
                sent.append(delivery)
            advanced = {
                TopicPartition(self.settings.topic, p): offset
                for p, offset in task.next_offsets().items()
                if offset > slot.committed.get(p, -1)
            }
            if advanced:
                await producer.send_offsets_to_transaction(advanced, self.settings.group)
            await asyncio.gather(*sent)
        for tp, offset in advanced.items():
            slot.committed[tp.partition] = offset
        if advanced and self._refused and not task.replaying:
            log.warning(
                "the refused batch is published (%s); whole dead letters again", slot.committed
            )
            self._refused, task.whole_dead_letters = False, True
        for publication in publications:
            self.metrics.publications.labels(publication.topic.name).inc()
        self.metrics.transactions.inc()

    def _busy(self, seconds: float) -> None:
        """How long a batch kept the event loop, where the group's heartbeats are sent too."""
        if seconds > self.longest_busy_s:
            self.longest_busy_s = seconds
            self.metrics.longest_busy.set(seconds)
            if seconds > self.settings.session_timeout_ms / 3000:
                log.warning(
                    "a batch kept the worker busy %.1f s, a third of the group's session or"
                    " more: smaller batches, or a longer session",
                    seconds,
                )

    # --- checkpoints ----------------------------------------------------------------------

    def _checkpoint_due(self, slot: _Slot) -> bool:
        if slot.checkpointing is not None and not slot.checkpointing.done():
            return False
        return slot.since_checkpoint > 0 and (
            slot.since_checkpoint >= self.settings.checkpoint_every_records
            or time.monotonic() - slot.last_checkpoint >= self.settings.checkpoint_every_s
        )

    def _start_checkpoint(self, slot: _Slot) -> None:
        """The task's state between two transactions, pickled and spooled by a forked child
        while this process goes on (the fork happens here, synchronously, so nothing moves
        first); then written to the changelog."""
        started, offsets = time.monotonic(), slot.task.next_offsets()
        slot.last_checkpoint, slot.since_checkpoint = started, 0
        spool = CheckpointFile(self.settings.spool_dir / f"{slot.key}.checkpoint")
        spool.remove_leftovers()
        try:
            pid = spool.save_forked(slot.task.checkpoint)
        except OSError:
            log.exception(
                "checkpoint of %s at %s not taken; the previous one stays", slot.key, offsets
            )
            return
        slot.checkpointing = asyncio.create_task(
            self._write_checkpoint(slot, spool, pid, offsets, started)
        )

    async def _write_checkpoint(
        self, slot: _Slot, spool: CheckpointFile, pid: int, offsets: dict[int, int], started: float
    ) -> None:
        try:
            _, status = await asyncio.to_thread(os.waitpid, pid, 0)
            code = os.waitstatus_to_exitcode(status)
            blob = spool.load() if code == 0 else None
            if blob is None:
                log.error("checkpoint of %s at %s failed (exit %s)", slot.key, offsets, code)
                return
            assert self._checkpoint_producer is not None
            await self.changelog.save(
                self._checkpoint_producer, slot.key, slot.changelog_partition, blob, offsets
            )
            elapsed = time.monotonic() - started
            self.metrics.checkpoint_seconds.set(elapsed)
            log.info(
                "checkpoint of %s at %s: %d KiB in %.2f s",
                slot.key,
                offsets,
                len(blob) // 1024,
                elapsed,
            )
        except Exception:
            log.exception("checkpoint of %s at %s: not written", slot.key, offsets)
