"""The scoring worker on the real broker reads both modes of the CloudEvents Kafka binding:
a binary-mode record is applied; a record whose key is not its subject is dead-lettered with
that reason, its headers and its bytes, and its status is `rejected`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import DeadLetter
from mingdeng.contracts.topics import DEAD_LETTER, EVENT_STATUS, EVENTS
from mingdeng.runtime.settings import KafkaSettings
from tests.support.bindings import kafka_binary
from tests.support.builders import Events
from tests.support.kafka_log import latest, records
from tests.support.processes import Service, free_port, wait_for

pytestmark = pytest.mark.integration


def binary_mode(event_json: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of an event in the Kafka binding's binary mode."""
    value, headers = kafka_binary(json.loads(event_json))
    return value, [*headers, ("ce_batchref", b"roll-call-7")]


def test_a_binary_record_is_applied_and_one_keyed_otherwise_is_dead_lettered(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    e = Events(source="/systems/inspection")
    applied = e.violation("v1", "A", "2026-11-03 10:00")
    keyed_otherwise = e.violation("v2", "A", "2026-11-04 10:00")
    port = free_port()
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_SCORING_DATA_DIR": str(tmp_path / "state"),
        "MINGDENG_SCORING_WEB_PORT": str(port),
    }
    worker = Service(["mingdeng-scoring", "run"], env, tmp_path / "scoring.log")
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        worker.start(f"http://127.0.0.1:{port}/healthz")
        value, headers = binary_mode(serialize_event(applied))
        producer.send(kafka.topic(EVENTS), key=b"A", value=value, headers=headers)
        wrong_value, wrong_headers = binary_mode(serialize_event(keyed_otherwise))
        producer.send(kafka.topic(EVENTS), key=b"B", value=wrong_value, headers=wrong_headers)
        producer.flush()

        def statuses() -> dict[str, dict]:
            found = latest(kafka.bootstrap_servers, kafka.topic(EVENT_STATUS))
            return {key: json.loads(value) for key, value in found.items()}

        keys = {f"{x.source} {x.id}" for x in (applied, keyed_otherwise)}
        wait_for(lambda: keys <= statuses().keys(), 60, "both statuses")
        found = statuses()
        assert found[f"{applied.source} {applied.id}"]["status"] == "applied"
        rejected = found[f"{keyed_otherwise.source} {keyed_otherwise.id}"]
        assert rejected["status"] == "rejected"
        assert rejected["reasons"][0]["field"] == "(key)"

        (record,) = records(kafka.bootstrap_servers, kafka.topic(DEAD_LETTER))
        letter = DeadLetter.model_validate_json(record.value)
        assert (letter.consumer, letter.key) == ("scoring", "B")
        assert letter.reasons == [
            {
                "field": "(key)",
                "message": "the key 'B' is not the subject 'A' nor the agency 'default': a "
                "record is keyed by its agency (one of the default agency also by its subject, "
                "as before agencies), so that the events about one agency or subject stay in "
                "order",
            }
        ]
        assert [(h.key, h.value) for h in letter.headers] == wrong_headers
        assert base64.b64decode(letter.raw_base64 or "") == wrong_value
    finally:
        producer.close()
        worker.kill_if_running()
