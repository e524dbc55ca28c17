"""Reading whole topics from the start, for replay, simulation and verification."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)


def read_from_start(bootstrap_servers: str, topic: str) -> Iterator[tuple[bytes | None, bytes]]:
    """Every (key, value) of `topic` up to its end as of now, partition by partition in order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            raise LookupError(f"topic {topic} does not exist")
        ends = consumer.end_offsets(partitions)
        for partition in partitions:
            consumer.assign([partition])
            consumer.seek_to_beginning(partition)
            while consumer.position(partition) < ends[partition]:
                for records in consumer.poll(timeout_ms=1000).values():
                    for record in records:
                        if record.offset < ends[partition]:
                            yield record.key, record.value
    finally:
        consumer.close()


def latest_by_key(bootstrap_servers: str, topic: str) -> dict[str, bytes]:
    """The newest value of every key (what a compacted topic settles to)."""
    return {
        key.decode(): value
        for key, value in read_from_start(bootstrap_servers, topic)
        if key is not None
    }


def reset_group_to_start(bootstrap_servers: str, group: str, topic: str) -> None:
    """Set `group`'s committed offsets on `topic` to 0. The group must have no live members."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        admin.alter_group_offsets(
            group, {TopicPartition(topic, p): OffsetAndMetadata(0, "", -1) for p in partitions}
        )
    finally:
        consumer.close()
        admin.close()


def delete_topics(bootstrap_servers: str, prefix: str, suffix: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(prefix) and t.endswith(suffix)]
        if doomed:
            admin.delete_topics(doomed)
        return doomed
    finally:
        admin.close()


def commit_start_where_missing(
    bootstrap_servers: str, group: str, topics: list[str], timeout_s: float = 60
) -> list[str]:
    """Commit offset 0 for partitions of `topics` where `group` has no committed offset yet.

    Equivalent to auto_offset_reset=earliest, made explicit: faust-streaming, restarted with
    table state but no committed offsets (stopped before its first commit), seeks nowhere and
    consumes nothing. Returns the partitions it committed, as `topic[partition]`. A new broker
    answers 'coordinator not available' until its offsets topic exists: retried to `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return _commit_start_where_missing(bootstrap_servers, group, topics)
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
            log.info("waiting for the group coordinator of %s: %s", group, error)
            time.sleep(1)


def _commit_start_where_missing(bootstrap_servers: str, group: str, topics: list[str]) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        missing = {
            TopicPartition(topic, partition): OffsetAndMetadata(0, "", -1)
            for topic in topics
            for partition in consumer.partitions_for_topic(topic) or ()
            if TopicPartition(topic, partition) not in committed
        }
        if missing:
            admin.alter_group_offsets(group, missing)
        return sorted(f"{tp.topic}[{tp.partition}]" for tp in missing)
    finally:
        consumer.close()
        admin.close()


def uncommitted(bootstrap_servers: str, group: str, topics: list[str]) -> dict[str, int]:
    """Records of `topics` that `group` has not committed yet, by `topic[partition]`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        ends = consumer.end_offsets(partitions)
        lag = {tp: ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in partitions}
        return {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n > 0}
    finally:
        consumer.close()
        admin.close()
