"""Records that once stopped a consumer for good, put straight on the inbound topic as any
upstream system could (issue 27): each is dead-lettered, and the good event behind them is
taken by every consumer (scoring, the notifier, outreach, the gateway's projector) within
seconds, and again after every service is killed and started."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.derived import DEAD_LETTER_MAX_BYTES
from mingdeng.contracts.topics import DEAD_LETTER, EVENTS
from tests.e2e.conftest import Platform, token
from tests.support.builders import Events
from tests.support.kafka_log import records
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
SERVICES = ("scoring", "notify", "outreach", "gateway")
CONSUMERS = ("mingdeng-notify", "mingdeng-outreach", "mingdeng-gateway-projector")


class _NotUtf8Name(str):
    """A header name whose bytes on the wire are not UTF-8 (kafka-python encodes names with
    `str.encode`, as a producer in another language would write any bytes)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"ce_\xff\xfeid"


def poison(e: Events) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of each record."""
    valid = e.violation("poison-base", "m1", "2026-09-02 10:00").to_cloudevent()
    huge = {**valid, "id": "poison-huge", "data": {**valid["data"], "extra": "x" * 900_000}}
    lone_id = json.dumps({**valid, "id": "poison-\udc00"}).encode()  # ASCII: "\\udc00"
    lone_source = json.dumps({**valid, "id": "poison-src", "source": "/systems/\ud800"}).encode()
    binary = [
        (f"ce_{name}", str(value).encode()) for name, value in valid.items() if name != "data"
    ]
    return [
        (b"m1", json.dumps(huge).encode(), []),  # 900 KB: a letter of it once held it twice
        (b"m1", lone_id, []),
        (b"m1", lone_source, []),
        (b"m1", json.dumps(valid["data"]).encode(), [(_NotUtf8Name("x"), b"poison-name")]),
        (b"m1", json.dumps(valid["data"]).encode(), [*binary[:1], ("ce_id", b"poison\x00nul")]),
        (b"k" * 400_000, b"\xff\xfe not JSON " * 30_000, [("h" * 1000, b"v" * 50_000)] * 3),
    ]


def applied(api: httpx.Client, event_id: str, source: str) -> bool:
    answer = api.get(f"/v1/events/{event_id}", params={"source": source}, headers=ADMIN)
    return answer.status_code == 200 and answer.json().get("status") == "applied"


async def offsets_taken(platform: Platform, partition: int) -> dict[str, int]:
    """How far each PostgreSQL consumer has read one partition of the inbound topic."""
    connection = await asyncpg.connect(platform.env["MINGDENG_DATABASE_URL"])
    try:
        rows = await connection.fetch(
            "SELECT consumer, coalesce(next_offset, 0) AS next_offset FROM public.consumer_offsets "
            "WHERE topic = $1 AND partition = $2",
            platform.kafka.topic(EVENTS),
            partition,
        )
    finally:
        await connection.close()
    return {
        row["consumer"].removeprefix(platform.kafka.topic_prefix): row["next_offset"]
        for row in rows
    }


def dead_letters(platform: Platform) -> list[dict[str, Any]]:
    return [
        json.loads(record.value)
        for record in records(platform.kafka.bootstrap_servers, platform.kafka.topic(DEAD_LETTER))
        if record.value is not None
    ]


def test_poison_records_are_dead_lettered_and_every_consumer_goes_on(
    platform_of: Callable[..., Platform], tmp_path: Path
) -> None:
    sink = tmp_path / "sms.jsonl"
    platform = platform_of(
        *SERVICES, MINGDENG_NOTIFY_SINK_FILE=str(sink), MINGDENG_NOTIFY_QUIET_HOURS=""
    )
    api = httpx.Client(base_url=platform.api, timeout=10)
    e = Events(source="/systems/inspection", prefix="pz")
    people = [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00"),
        e.member("m1", "d1", "2026-06-01 09:00", phone="13900000001"),
    ]
    posted = api.post("/v1/events", json=[x.to_cloudevent() for x in people], headers=ADMIN)
    assert posted.status_code == 202
    topic = platform.kafka.topic(EVENTS)
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    bad = poison(e)
    for key, value, headers in bad:
        producer.send(topic, key=key, value=value, headers=headers, partition=0).get(30)

    def good_event(number: int) -> tuple[str, str, int]:
        violation = e.violation(f"v-good-{number}", "m1", datetime.now(UTC) - timedelta(minutes=1))
        sent = producer.send(topic, key=b"m1", value=serialize_event(violation), partition=0)
        return violation.id, violation.source, sent.get(30).offset

    def everyone_took(event_id: str, source: str, offset: int) -> bool:
        taken = asyncio.run(offsets_taken(platform, 0))
        return applied(api, event_id, source) and all(
            taken.get(consumer, 0) > offset for consumer in CONSUMERS
        )

    first = good_event(1)
    wait_for(lambda: everyone_took(*first), 30, "the good event taken by every consumer")
    letters = dead_letters(platform)
    assert len(letters) == len(bad)
    assert all(len(json.dumps(letter).encode()) <= DEAD_LETTER_MAX_BYTES for letter in letters)
    huge = next(letter for letter in letters if (letter["value_size"] or 0) > 800_000)
    assert huge["raw_base64"] is None and "raw_base64" in huge["truncated"]
    reasons = [reason["message"] for letter in letters for reason in letter["reasons"]]
    assert sum("lone surrogates" in reason for reason in reasons) == 3  # id, source, header name
    assert any("NUL" in reason for reason in reasons)
    wait_for(lambda: sink.exists() and "v-good-1" in sink.read_text(), 30, "the reminder SMS")

    for name in SERVICES:
        platform.services[name].kill_if_running()
    for name in SERVICES:
        platform.launch(name)
    second = good_event(2)
    wait_for(lambda: everyone_took(*second), 60, "the next good event taken after restarts")
    assert len(dead_letters(platform)) == len(bad)  # and none dead-lettered twice
    for command in (("replay", "--verify"), ("reconcile",)):  # a replay meets them again
        done = subprocess.run(
            [str(ROOT / ".venv/bin/mingdeng-scoring"), *command],
            env={**platform.env, "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-2000:]
