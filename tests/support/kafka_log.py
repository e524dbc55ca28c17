"""Reading topics from the tests' side (kafka-python, committed records only), independent of
the adapters under test."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def records(bootstrap_servers: str, topic: str) -> list[ConsumerRecord]:
    """Every committed record of `topic` up to its end as of now, partition by partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                found.extend(
                    r for r in batch if r.offset < ends[TopicPartition(topic, r.partition)]
                )
        return found
    finally:
        consumer.close()


def latest(bootstrap_servers: str, topic: str) -> dict[str, bytes]:
    """The newest value of every key (what a compacted topic settles to; tombstones remove)."""
    values: dict[str, bytes] = {}
    for record in records(bootstrap_servers, topic):
        if record.key is None:
            continue
        if record.value is None:
            values.pop(record.key.decode(), None)
        else:
            values[record.key.decode()] = record.value
    return values


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Where each partition of `topic` ends now (committed and not)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()
