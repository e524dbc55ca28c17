from __future__ import annotations

from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mingdeng.contracts import parse_event, serialize_event
from mingdeng.contracts.events import ViolationLogged
from mingdeng.contracts.topics import EVENTS
from tests.support.samples import cloudevent


def test_an_event_round_trips_through_kafka_into_the_same_typed_model(
    kafka_bootstrap: str, unique: str
) -> None:
    sent = parse_event(
        cloudevent(
            "mingdeng.violation.logged.v1",
            {
                "violation_id": f"v-{unique}",
                "member_id": f"m-{unique}",
                "rule": 4,
                "description": "工作日午间饮酒",
                "inspector_id": "m002",
                "shift": "午间",
            },
            time=datetime(2026, 11, 20, 12, 30, tzinfo=UTC),
        )
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    metadata = producer.send(
        EVENTS.name, key=sent.subject.encode(), value=serialize_event(sent)
    ).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=10_000)
    partition = TopicPartition(EVENTS.name, metadata.partition)
    consumer.assign([partition])
    consumer.seek(partition, metadata.offset)
    record = next(iter(consumer))
    consumer.close()

    received = parse_event(record.value)
    assert record.key == f"m-{unique}".encode()
    assert received == sent
    assert isinstance(received.data, ViolationLogged)
    assert received.data.rule == 4
    assert received.data.model_extra == {"shift": "午间"}
