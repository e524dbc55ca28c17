"""Scoring reads the inbound topic in both modes of the CloudEvents Kafka binding, and
dead-letters a record whose key is not its subject, with the reason and its headers."""

from __future__ import annotations

import base64
import json

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import DeadLetter
from mingdeng.contracts.topics import DEAD_LETTER, EVENTS
from mingdeng.runtime.stream import InboundRecord
from mingdeng.scoring.domain.rules import Rules
from tests.support.bindings import kafka_binary
from tests.support.builders import Events
from tests.unit.scoring.test_service import service_for, statuses


def binary(event_json: bytes, partition: int, offset: int, key: bytes) -> InboundRecord:
    value, headers = kafka_binary(json.loads(event_json))
    return InboundRecord(
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        timestamp_ms=1_790_000_000_000,
        headers=(*headers, ("ce_tenant", b"bureau")),
    )


def test_a_binary_record_counts_and_a_record_keyed_otherwise_is_dead_lettered(
    rules: Rules,
) -> None:
    e = Events(source="/systems/inspection")
    counted = e.violation("v1", "A", "2026-08-03 10:00")
    keyed_otherwise = e.violation("v2", "A", "2026-08-04 10:00")
    service = service_for(rules)
    out = service.take(
        [
            binary(serialize_event(counted), 0, 0, b"A"),
            binary(serialize_event(keyed_otherwise), 0, 1, b"B"),
        ]
    )
    found = statuses(out)
    assert found[f"{counted.source} {counted.id}"].status == "applied"
    assert found[f"{keyed_otherwise.source} {keyed_otherwise.id}"].status == "rejected"
    reason = "the key 'B' is not the subject 'A'"
    assert reason in found[f"{keyed_otherwise.source} {keyed_otherwise.id}"].reasons[0]["message"]
    letters = [
        DeadLetter.model_validate_json(p.value or b"") for p in out if p.topic == DEAD_LETTER
    ]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.topic, letter.partition, letter.offset, letter.key) == (EVENTS.name, 0, 1, "B")
    assert letter.reasons[0]["field"] == "(key)" and reason in letter.reasons[0]["message"]
    headers = {h.key: h.value for h in letter.headers}
    assert headers["ce_id"] == keyed_otherwise.id.encode() and headers["ce_tenant"] == b"bureau"
    assert headers["content-type"] == b"application/json"
    assert (
        base64.b64decode(letter.raw_base64 or "")
        == json.dumps(json.loads(serialize_event(keyed_otherwise))["data"]).encode()
    )
    assert set(service.engine.facts.violations) == {"v1"}  # the one keyed otherwise is not applied
