"""Checkpoints of a stream task on a compacted changelog topic, where any worker can read them.

A task's checkpoint (`runtime.stream`) is a blob of up to tens of MiB; a topic takes record
batches of at most 1 MiB, so the blob goes in chunks of `CHUNK_BYTES`, keyed
`{task}/{checkpoint id}/{n}`, then a manifest keyed `{task}` naming the chunks, their SHA-256
and the input offsets the state covers. A task's records sit on the changelog partition of the
same number as its input partition, so restoring a task reads one partition. Once a manifest is
written, the chunks of the one it replaces get tombstones and compaction removes them.

Written by an idempotent producer outside the task's transactions: a checkpoint is taken only
between two transactions, so it never covers more than the committed offsets; a stale manifest
(a zombie's) only makes the next owner replay more. A manifest whose chunks do not check out is
ignored: the task then replays its partition from the start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition

from mingdeng.runtime.clients import kafka_consumer

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024


@dataclass(frozen=True)
class Manifest:
    checkpoint_id: str
    chunks: int
    sha256: str
    offsets: dict[int, int]
    partition: int  # of the changelog topic; not written in the manifest

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "id": self.checkpoint_id,
                "chunks": self.chunks,
                "sha256": self.sha256,
                "offsets": {str(p): o for p, o in self.offsets.items()},
            }
        ).encode()

    @classmethod
    def from_json(cls, value: bytes, partition: int) -> Manifest:
        document = json.loads(value)
        return cls(
            checkpoint_id=document["id"],
            chunks=int(document["chunks"]),
            sha256=document["sha256"],
            offsets={int(p): int(o) for p, o in document["offsets"].items()},
            partition=partition,
        )

    def chunk_key(self, task: str, number: int) -> bytes:
        return f"{task}/{self.checkpoint_id}/{number}".encode()


class ChangelogStore:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._current: dict[str, Manifest] = {}  # by task: the last manifest read or written

    async def save(
        self,
        producer: AIOKafkaProducer,
        task: str,
        partition: int,
        blob: bytes,
        offsets: dict[int, int],
    ) -> Manifest:
        chunks = [blob[n : n + CHUNK_BYTES] for n in range(0, len(blob), CHUNK_BYTES)] or [b""]
        manifest = Manifest(
            uuid.uuid4().hex, len(chunks), hashlib.sha256(blob).hexdigest(), offsets, partition
        )
        sent = [
            await producer.send(
                self.topic, chunk, key=manifest.chunk_key(task, n), partition=partition
            )
            for n, chunk in enumerate(chunks)
        ]
        for delivery in sent:
            await delivery
        await (
            await producer.send(
                self.topic, manifest.to_json(), key=task.encode(), partition=partition
            )
        )
        replaced = self._current.get(task)
        self._current[task] = manifest
        if replaced is not None and replaced.checkpoint_id != manifest.checkpoint_id:
            for n in range(replaced.chunks):
                await producer.send(
                    self.topic, None, key=replaced.chunk_key(task, n), partition=partition
                )
        return manifest

    async def forget(self, producer: AIOKafkaProducer, task: str, manifest: Manifest) -> None:
        """Tombstones for the task's checkpoint: its next owner starts from nothing."""
        keys = [task.encode(), *(manifest.chunk_key(task, n) for n in range(manifest.chunks))]
        for key in keys:
            await (await producer.send(self.topic, None, key=key, partition=manifest.partition))
        self._current.pop(task, None)

    async def load(self, task: str, partition: int) -> tuple[bytes, Manifest] | None:
        """The task's newest checkpoint, or None when there is none that checks out."""
        found = await self.read([partition])
        return found.get(task)

    async def read(self, partitions: list[int]) -> dict[str, tuple[bytes, Manifest]]:
        """Every task's newest checkpoint found on these changelog partitions."""
        manifests: dict[str, Manifest] = {}
        chunks: dict[bytes, bytes] = {}
        consumer = kafka_consumer(self.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            # a position set now, not `seek_to_beginning`: that one only marks the partitions
            # for a reset, and the reset to the end that assign() has already asked for can
            # land after it (aiokafka 0.14): the read then starts at the end and finds nothing
            for tp, offset in (await consumer.beginning_offsets(tps)).items():
                consumer.seek(tp, offset)
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=1000)
                for messages in batches.values():
                    for message in messages:
                        key = message.key or b""
                        if b"/" not in key:
                            task = key.decode()
                            if message.value is None:
                                manifests.pop(task, None)
                            else:
                                manifests[task] = Manifest.from_json(
                                    message.value, message.partition
                                )
                        elif message.value is None:
                            chunks.pop(key, None)
                        else:
                            chunks[key] = message.value
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        found: dict[str, tuple[bytes, Manifest]] = {}
        for task, manifest in manifests.items():
            parts = [chunks.get(manifest.chunk_key(task, n)) for n in range(manifest.chunks)]
            blob = b"".join(part for part in parts if part is not None)
            if None in parts or hashlib.sha256(blob).hexdigest() != manifest.sha256:
                log.warning("checkpoint %s of task %s does not check out", manifest, task)
                continue
            found[task] = (blob, manifest)
            self._current[task] = manifest
        return found
