"""Reading whole topics (replay, verification, reconciliation) and managing the group's offsets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import TopicPartition
from aiokafka.errors import GroupIdNotFound, NoError, NonEmptyGroup, for_code
from aiokafka.protocol.admin import DeleteGroupsRequest

from mingdeng.runtime.clients import kafka_admin, kafka_consumer, kafka_producer
from mingdeng.runtime.stream import InboundRecord, inbound


async def read_log(
    bootstrap_servers: str,
    topic: str,
    start: dict[int, int] | None = None,
    max_records: int = 10_000,
) -> AsyncIterator[list[InboundRecord]]:
    """Batches of `topic`'s committed records from `start` (default: the beginning) up to its
    end as of the call, in offset order within each partition."""
    consumer = kafka_consumer(
        bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    count = await partition_count(bootstrap_servers, topic)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max((start or {}).get(tp.partition, 0), beginnings[tp]))
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            records = [
                inbound(m)
                for tp, messages in batches.items()
                for m in messages
                if m.offset < ends[tp]
            ]
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
            if records:
                yield records
    finally:
        await consumer.stop()


async def partition_count(bootstrap_servers: str, topic: str) -> int:
    producer = kafka_producer(bootstrap_servers)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def latest_by_key(bootstrap_servers: str, topic: str) -> dict[bytes, bytes]:
    """The newest value of every key of a compacted topic (a tombstone removes the key)."""
    latest: dict[bytes, bytes] = {}
    async for batch in read_log(bootstrap_servers, topic):
        for record in batch:
            if record.key is None:
                continue
            if record.value is None:
                latest.pop(record.key, None)
            else:
                latest[record.key] = record.value
    return latest


class GroupNotEmpty(RuntimeError):
    """The group to forget still has a live member."""


async def reset_group(bootstrap_servers: str, group: str) -> None:
    """Forget the group and its committed offsets (DeleteGroups, which aiokafka's admin client
    does not offer: sent to the group's coordinator). A group that does not exist is already
    forgotten; one with a live member is refused (GroupNotEmpty)."""
    admin = kafka_admin(bootstrap_servers)
    await admin.start()
    try:
        coordinator = await admin.find_coordinator(group)
        response = await admin._client.send(coordinator, DeleteGroupsRequest([group]))
    finally:
        await admin.close()
    for _, code in response.results:
        if code == NonEmptyGroup.errno:
            raise GroupNotEmpty(f"the group {group} has live members: stop the workers first")
        if code not in (NoError.errno, GroupIdNotFound.errno):
            raise for_code(code)(f"forgetting the group {group}")
