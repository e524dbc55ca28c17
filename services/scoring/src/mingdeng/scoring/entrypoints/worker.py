"""The scoring worker: `mingdeng.events.v1` in; statuses, dead letters, scores, selections and
barrier copies out, with the consumed offsets, in one Kafka transaction per batch.

Exactly one effect per inbound record: a batch's outputs and its offsets commit together or not at
all (consumers of the outputs read committed data). A failure anywhere (Kafka away, a fenced
producer, a bug) ends the session; the next session rebuilds the state from the last checkpoint
plus the records between it and the committed offsets, publishing nothing for those, and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from mingdeng.contracts.topics import EVENTS
from mingdeng.runtime.clients import kafka_consumer, kafka_producer
from mingdeng.runtime.faults import is_refused_record
from mingdeng.runtime.health import kafka_answers, start_health_server
from mingdeng.runtime.worker import pause
from mingdeng.scoring.adapters.checkpoints import CheckpointFile
from mingdeng.scoring.adapters.kafka_log import inbound
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import InboundRecord, Publication, ScoringService
from mingdeng.scoring.settings import ScoringSettings

log = logging.getLogger(__name__)

GROUP = "mingdeng-scoring"
TRANSACTIONAL_ID = "mingdeng-scoring"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "mingdeng_scoring_records", "inbound records taken", registry=self.registry
        )
        self.publications = Counter(
            "mingdeng_scoring_publications",
            "records published, by topic",
            ["topic"],
            registry=self.registry,
        )
        self.transactions = Counter(
            "mingdeng_scoring_transactions", "transactions committed", registry=self.registry
        )
        self.failures = Counter(
            "mingdeng_scoring_session_failures",
            "sessions ended by an error",
            registry=self.registry,
        )
        self.lag = Gauge(
            "mingdeng_scoring_consumer_lag",
            "inbound records not yet taken, by partition",
            ["partition"],
            registry=self.registry,
        )
        self.blocked = Gauge(
            "mingdeng_scoring_partitions_at_barrier",
            "partitions held at a quarter-close barrier",
            registry=self.registry,
        )
        self.checkpoint_age = Gauge(
            "mingdeng_scoring_checkpoint_age_seconds",
            "seconds since the last checkpoint",
            registry=self.registry,
        )
        self.checkpoint_seconds = Gauge(
            "mingdeng_scoring_checkpoint_duration_seconds",
            "how long the last checkpoint took to take",
            registry=self.registry,
        )
        self.ready = Gauge(
            "mingdeng_scoring_ready", "1 when live and caught up", registry=self.registry
        )


class ScoringWorker:
    def __init__(
        self,
        settings: ScoringSettings,
        rules: Rules | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.rules = rules or Rules.load(settings.rules_file)
        self.clock = clock
        self.metrics = Metrics()
        self.checkpoints = CheckpointFile(settings.data_dir / "engine.checkpoint")
        self.service: ScoringService | None = None
        self.live = False  # a session is running
        self.lag: dict[int, int] = {}
        self._last_checkpoint = time.monotonic()
        self._since_checkpoint = 0
        self._checkpointing: asyncio.Task[None] | None = None
        self._refused_at: dict[int, int] | None = None  # offsets of a batch the broker refused

    # --- health ---------------------------------------------------------------------------

    def consumer_checks(self) -> dict[str, bool]:
        service = self.service
        caught_up = (
            service is not None
            and not service.replaying
            and len(self.lag) == service.partitions  # every partition's end is known
            and sum(self.lag.values()) <= self.settings.ready_max_lag
        )
        return {"consuming": self.live, "caught_up": caught_up}

    async def readiness(self) -> dict[str, bool]:
        """The broker answers (the session's own view of it lags: a consumer waiting on a
        broker that is gone has nothing to say), and the session consumes and keeps up."""
        return {
            "kafka": await kafka_answers(self.settings.kafka.bootstrap_servers),
            **self.consumer_checks(),
        }

    async def serve_health(self) -> web.AppRunner:
        """`/healthz`, `/readyz` (the checks above) and `/metrics` (lag per partition,
        partitions held at a barrier, checkpoint age, …)."""

        async def metrics() -> str:
            checks = self.consumer_checks()
            self.metrics.ready.set(1 if all(checks.values()) else 0)
            self.metrics.checkpoint_age.set(time.monotonic() - self._last_checkpoint)
            return generate_latest(self.metrics.registry).decode()

        return await start_health_server(
            self.settings.web_host, self.settings.web_port, self.readiness, metrics
        )

    # --- running --------------------------------------------------------------------------

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
                if is_refused_record(error) and self.service is not None:
                    # a record of the batch was refused as too large: the batch is taken again
                    # with dead letters that only refer to their records (the one output that
                    # can be that large, made from input); logged with the offsets it stopped at
                    self._refused_at = self.service.next_offsets()
                log.exception("scoring session failed; starting again in %.0f s", backoff)
            finally:
                self.live = False
                if self._checkpointing is not None:
                    await self._checkpointing  # a child writing: seconds at most
            if time.monotonic() - started > 60:
                backoff = 1.0
            await pause(stop, backoff)
            backoff = min(backoff * 2, self.settings.retry_backoff_max_s)

    async def _session(self, stop: asyncio.Event) -> None:
        kafka = self.settings.kafka
        topic = kafka.topic(EVENTS)
        consumer = kafka_consumer(
            kafka.bootstrap_servers,
            group_id=kafka.group(GROUP),
            client_id="mingdeng-scoring",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        producer = kafka_producer(
            kafka.bootstrap_servers,
            client_id="mingdeng-scoring",
            transactional_id=kafka.group(TRANSACTIONAL_ID),
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            max_batch_size=512 * 1024,
            # a transaction begun just after a commit can meet the coordinator still writing
            # its markers (CONCURRENT_TRANSACTIONS): retry within milliseconds, not the 100 ms
            # default, or each such stall lands on the freshness of the indices
            retry_backoff_ms=10,
        )
        await consumer.start()
        try:
            await producer.start()
            try:
                await self._consume(consumer, producer, topic, stop)
            finally:
                await producer.stop()
        finally:
            await consumer.stop()

    async def _consume(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        topic: str,
        stop: asyncio.Event,
    ) -> None:
        partitions = sorted(await self._partitions(producer, topic))
        tps = {p: TopicPartition(topic, p) for p in partitions}
        consumer.assign(list(tps.values()))
        committed = {}
        for p, tp in tps.items():
            offset = await consumer.committed(tp)
            if offset is not None:
                committed[p] = offset
        service, start = self._restored(len(partitions), committed)
        beginnings = await consumer.beginning_offsets(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, max(start.get(p, 0), beginnings[tp]))
        service.replaying_until(committed)
        service.whole_dead_letters = self._refused_at is None
        self.service = service
        self.live = True
        log.info("scoring from %s (committed %s)", start or "the beginning", committed or "nothing")
        paused: set[int] = set()
        next_due = 0.0
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=self.settings.max_batch)
            records = sorted(
                (inbound(m) for messages in batches.values() for m in messages),
                key=lambda r: (r.partition, r.offset),
            )
            due: list[Publication] = []
            if not service.replaying and time.monotonic() >= next_due:
                due = service.due(self.clock())
                next_due = time.monotonic() + self.settings.close_check_interval_s
            catching_up = service.replaying
            settled = not catching_up and service.has_unpublished_changes
            if records or due or settled:
                await self._transaction(producer, service, records, due, committed, tps)
                if catching_up and not service.replaying:
                    log.info("replayed up to the committed offsets %s; live from here", committed)
                self.metrics.records.inc(len(records))
                self._since_checkpoint += len(records)
            blocked = service.blocked_partitions
            if blocked != paused:
                consumer.resume(*(tps[p] for p in paused - blocked))
                consumer.pause(*(tps[p] for p in blocked - paused))
                paused = blocked
                self.metrics.blocked.set(len(blocked))
            for p, tp in tps.items():
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    taken = service.sequencing.next_offsets.get(p, 0)
                    if p not in blocked:  # past transaction markers too
                        taken = max(taken, await consumer.position(tp))
                    self.lag[p] = max(0, highwater - taken)
                    self.metrics.lag.labels(str(p)).set(self.lag[p])
            if self._checkpoint_due() and not service.replaying:
                self._start_checkpoint(service)
        if not service.replaying and service.owes_publications:  # stopping: leave nothing owed
            await self._transaction(producer, service, [], [], committed, tps, everything=True)

    async def _transaction(
        self,
        producer: AIOKafkaProducer,
        service: ScoringService,
        records: list[InboundRecord],
        due: list[Publication],
        committed: dict[int, int],
        tps: dict[int, TopicPartition],
        *,
        everything: bool = False,
    ) -> None:
        async with producer.transaction():
            publications = (
                service.take(records) + due + service.publish_changes(everything=everything)
            )
            kafka = self.settings.kafka
            sent = [
                await producer.send(
                    kafka.topic(p.topic),
                    key=p.key,
                    value=p.value,
                    partition=p.partition,
                    headers=list(p.headers) or None,
                )
                for p in publications
            ]
            advanced = {
                tps[p]: offset
                for p, offset in service.next_offsets().items()
                if offset > committed.get(p, -1)
            }
            if advanced:
                await producer.send_offsets_to_transaction(
                    advanced, self.settings.kafka.group(GROUP)
                )
            await asyncio.gather(*sent)
        for tp, offset in advanced.items():
            committed[tp.partition] = offset
        if advanced and self._refused_at is not None and not service.replaying:
            log.warning("the refused batch at %s is published; whole dead letters again", committed)
            self._refused_at, service.whole_dead_letters = None, True
        for publication in publications:
            self.metrics.publications.labels(publication.topic.name).inc()
        self.metrics.transactions.inc()

    async def _partitions(self, producer: AIOKafkaProducer, topic: str) -> set[int]:
        try:
            return set(await producer.partitions_for(topic))
        except KafkaError as error:
            raise LookupError(f"{topic}: {error}; create it with `mingdeng topics`") from error

    def _restored(
        self, partitions: int, committed: dict[int, int]
    ) -> tuple[ScoringService, dict[int, int]]:
        """A service at the last checkpoint, and where to read from; a fresh one and offset 0
        without a usable checkpoint."""
        service = self._new_service(partitions)
        self.checkpoints.remove_leftovers()
        blob = self.checkpoints.load()
        if blob is None:
            return service, {}
        if not service.restore(blob):
            kept = service.keep_finals_of(blob)
            log.warning(
                "the checkpoint was written by another version or rules: replaying the log, the"
                " final standings of %d closed quarters kept as they were computed",
                kept,
            )
            return service, {}
        start = service.next_offsets()
        if any(offset > committed.get(p, 0) for p, offset in start.items()):
            log.warning("the checkpoint is ahead of the committed offsets (a reset?): not used")
            return self._new_service(partitions), {}
        return service, start

    def _new_service(self, partitions: int) -> ScoringService:
        return ScoringService(
            self.rules,
            partitions,
            clock=self.clock,
            barrier_timeout=timedelta(seconds=self.settings.barrier_timeout_s),
            selection_interval=timedelta(seconds=self.settings.selection_interval_s),
            inbound_topic=self.settings.kafka.topic(EVENTS),
        )

    def _checkpoint_due(self) -> bool:
        if self._checkpointing is not None and not self._checkpointing.done():
            return False
        return self._since_checkpoint > 0 and (
            self._since_checkpoint >= self.settings.checkpoint_every_records
            or time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_every_s
        )

    def _start_checkpoint(self, service: ScoringService) -> None:
        """The state between two transactions, pickled and written by a forked child while
        this process goes on; the fork happens here, synchronously, so nothing moves first."""
        started, offsets = time.monotonic(), service.next_offsets()
        self._last_checkpoint, self._since_checkpoint = started, 0
        try:
            pid = self.checkpoints.save_forked(service.checkpoint)
        except OSError:
            log.exception("checkpoint at %s not taken; the previous one stays", offsets)
            return
        self._checkpointing = asyncio.create_task(self._reap_checkpoint(pid, offsets, started))

    async def _reap_checkpoint(self, pid: int, offsets: dict[int, int], started: float) -> None:
        try:
            _, status = await asyncio.to_thread(os.waitpid, pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                log.error(
                    "checkpoint at %s failed (exit %s); the previous one stays", offsets, code
                )
                return
            elapsed = time.monotonic() - started
            self.metrics.checkpoint_seconds.set(elapsed)
            size = self.checkpoints.path.stat().st_size
            log.info("checkpoint at %s: %d KiB in %.2f s, aside", offsets, size // 1024, elapsed)
        except Exception:
            log.exception("checkpoint at %s: its writer could not be followed", offsets)
