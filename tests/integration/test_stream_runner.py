"""The stream runtime on the real broker (`runtime.stream`, `runtime.changelog`): a task kept
across a rebalance while it replays goes on from where it stands, and a reader that has just
started finds the newest checkpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from mingdeng.contracts.topics import EVENTS, SCORES, SCORING_CHECKPOINTS
from mingdeng.runtime.changelog import ChangelogStore
from mingdeng.runtime.clients import kafka_producer
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.stream import InboundRecord, Publication, StreamRunner, StreamSettings


class RecordingTask:
    """A task that keeps the offsets it is given; while `holding`, it holds its partitions
    (as scoring's barrier does) once it has taken a record."""

    def __init__(self, holding: bool) -> None:
        self.whole_dead_letters = True
        self.holding = holding
        self.taken: list[tuple[int, int]] = []
        self._next: dict[int, int] = {}
        self._silent_below: dict[int, int] = {}

    @property
    def replaying(self) -> bool:
        return any(self._next.get(p, 0) < end for p, end in self._silent_below.items())

    @property
    def has_unpublished_changes(self) -> bool:
        return False

    @property
    def owes_publications(self) -> bool:
        return False

    @property
    def blocked_partitions(self) -> set[int]:
        return {p for p, _ in self.taken} if self.holding else set()

    def take(self, records: list[InboundRecord]) -> list[Publication]:
        for record in records:
            self.taken.append((record.partition, record.offset))
            self._next[record.partition] = record.offset + 1
        return []

    def due(self, now: datetime) -> list[Publication]:
        return []

    def publish_changes(self, *, everything: bool = False) -> list[Publication]:
        return []

    def next_offsets(self) -> dict[int, int]:
        return dict(self._next)

    def replaying_until(self, offsets: dict[int, int]) -> None:
        self._silent_below = dict(offsets)

    def checkpoint(self) -> bytes:
        return b""


class RecordingTasks:
    def __init__(self, holding: bool) -> None:
        self.holding = holding
        self.tasks: dict[tuple[int, ...], RecordingTask] = {}

    def task(
        self,
        partitions: tuple[int, ...],
        of: int,
        checkpoint: bytes | None,
        committed: dict[int, int],
    ) -> tuple[RecordingTask, dict[int, int]]:
        task = self.tasks[partitions] = RecordingTask(self.holding)
        return task, {}  # no checkpoint: from the beginning


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls another task's progress
            await asyncio.sleep(0.05)
    assert condition(), what


def publish(kafka: KafkaSettings, partition: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    for n in range(count):
        producer.send(kafka.topic(EVENTS), value=f"r{n}".encode(), partition=partition)
    producer.flush()
    producer.close()


async def test_a_task_kept_across_a_rebalance_while_it_replays_skips_nothing(
    kafka: KafkaSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker owns partition 0, whose committed offset (300) lies ahead of its task (no
    checkpoint: it replays from 0). A rebalance that leaves the partition with it comes while
    it replays; aiokafka then starts the partition at the committed offset. The task must
    still be given every record, once and in order."""
    group, topic = kafka.group("stream-test"), kafka.topic(EVENTS)
    publish(kafka, 0, 300)
    committer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group)
    await committer.start()
    committer.assign([TopicPartition(topic, 0)])
    await committer.commit({TopicPartition(topic, 0): 300})  # as a previous owner left it
    await committer.stop()
    factory = RecordingTasks(holding=True)  # the replay stops after its first batch
    runner = StreamRunner(
        StreamSettings(
            name="stream-test",
            topic=topic,
            changelog_topic=kafka.topic(SCORING_CHECKPOINTS),
            group=group,
            transactional_id=group,
            outputs=kafka.topic,
            bootstrap_servers=kafka.bootstrap_servers,
            partitioned=True,
            spool_dir=tmp_path,
            max_batch=20,
        ),
        factory,
    )
    caplog.set_level(logging.INFO, "mingdeng.runtime.stream")

    def assignments() -> int:  # how many times the runner has taken its tasks on
        return sum("runs the tasks" in r.getMessage() for r in caplog.records)

    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    # a member of the same group reading another topic: a rebalance that moves nothing
    joining = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group)
    try:
        await until(lambda: bool(factory.tasks.get((0,)) and factory.tasks[(0,)].taken), "p0")
        task = factory.tasks[(0,)]
        await until(lambda: runner.slots["p0"].paused == {0}, "p0 held")
        assert task.replaying and assignments() == 1
        await joining.start()
        joining.subscribe([kafka.topic(SCORES)])
        await joining.getmany(timeout_ms=100)
        await until(lambda: assignments() == 2, "the runner's tasks taken on again")
        assert runner.slots["p0"].task is task  # kept, still replaying
        task.holding = False
        publish(kafka, 0, 20)
        await until(lambda: task.next_offsets().get(0) == 320, "every record taken")
        assert task.taken == [(0, offset) for offset in range(320)]
    finally:
        stop.set()
        await joining.stop()
        await running


async def test_a_reader_just_started_finds_the_newest_checkpoint(kafka: KafkaSettings) -> None:
    """The checkpoint read by a worker that has just started (as a failover does): found
    every time, not only when the consumer's first reset to the end loses the race."""
    topic = kafka.topic(SCORING_CHECKPOINTS)
    producer = kafka_producer(kafka.bootstrap_servers, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        writer = ChangelogStore(kafka.bootstrap_servers, topic)
        await writer.save(producer, "p1", 1, b"first", {1: 10})
        written = await writer.save(producer, "p1", 1, b"second", {1: 20})
    finally:
        await producer.stop()
    for _ in range(10):
        found = await ChangelogStore(kafka.bootstrap_servers, topic).load("p1", 1)
        assert found == (b"second", written)
