"""An operator's round trip with `mingdeng dead-letters` (docs/operations.md): an upstream
system puts an invalid event straight on Kafka; scoring dead-letters it with its reasons; the
operator lists it, reads its bytes, corrects them and re-drives it; the event is then applied
and the dead letter no longer listed. A correction that is still invalid is refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.topics import EVENTS
from tests.e2e.conftest import Platform, token
from tests.support.bindings import kafka_binary
from tests.support.builders import Events
from tests.support.kafka_log import records
from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")


def status(platform: Platform, event_id: str, source: str = "/systems/inspection") -> str | None:
    answer = httpx.get(
        f"{platform.api}/v1/events/{event_id}", params={"source": source}, headers=ADMIN
    )
    return answer.json().get("status") if answer.status_code == 200 else None


def mingdeng(
    platform: Platform, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng"), "dead-letters", *args],
        env={**platform.env, "PATH": "/usr/bin:/bin"}, input=stdin, capture_output=True, timeout=60,
    )  # fmt: skip


def test_a_dead_letter_is_listed_shown_corrected_and_redriven(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("gateway", "scoring")
    e = Events(source="/systems/inspection", prefix="dl")
    document = json.loads(
        json.dumps(e.violation("v-dl-1", "m1", "2026-09-02 10:00").to_cloudevent())
    )
    document["data"]["rule"] = 11  # the code has ten rules
    sent = json.dumps(document, ensure_ascii=False).encode()
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    producer.send(platform.kafka.topic(EVENTS), key=b"m1", value=sent).get(30)
    producer.close()

    def listed() -> str:
        return mingdeng(platform, "list").stdout.decode()

    wait_for(lambda: "rule" in listed(), 60, "the dead letter listed")
    (ref,) = [line for line in listed().splitlines() if line.startswith("d:")]
    assert "data.rule" in listed()  # with its reason
    shown = mingdeng(platform, "show", ref)
    assert shown.returncode == 0 and shown.stdout == sent  # the bytes exactly as sent

    still_wrong = mingdeng(platform, "redrive", ref, "--file", "-", stdin=sent)
    assert still_wrong.returncode == 1 and b"still refused" in still_wrong.stderr

    document["data"]["rule"] = 3
    corrected = json.dumps(document, ensure_ascii=False).encode()
    done = mingdeng(platform, "redrive", ref, "--file", "-", stdin=corrected)
    assert done.returncode == 0, done.stderr
    assert platform.kafka.topic(EVENTS).encode() in done.stdout  # back to where it came from

    wait_for(
        lambda: status(platform, document["id"]) == "applied", 60, "the corrected event applied"
    )
    assert "0 dead letters" in listed()
    assert "re-driven" in mingdeng(platform, "list", "--all").stdout.decode()


def test_a_binary_record_keyed_otherwise_is_redriven_with_its_headers_keyed_by_agency(
    platform_of: Callable[..., Platform],
) -> None:
    """The dead letter keeps the record's headers (a binary-mode event's attributes); the
    re-drive of the original bytes sends them back, keyed by its agency this time (ADR 0002)."""
    platform = platform_of("gateway", "scoring")
    e = Events(source="/systems/inspection", prefix="dlb")
    document = e.violation("v-dl-2", "m1", "2026-11-02 10:00").to_cloudevent()
    value, headers = kafka_binary(document)
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    producer.send(platform.kafka.topic(EVENTS), key=b"m2", value=value, headers=headers).get(30)
    producer.close()

    def listed() -> str:
        return mingdeng(platform, "list").stdout.decode()

    wait_for(lambda: "(key)" in listed(), 60, "the dead letter listed with its reason")
    (ref,) = [line.split()[0] for line in listed().splitlines() if line.startswith("d:")]
    assert mingdeng(platform, "show", ref).stdout == value
    done = mingdeng(platform, "redrive", ref)
    assert done.returncode == 0, done.stderr

    wait_for(
        lambda: status(platform, document["id"]) == "applied", 60, "the re-driven event applied"
    )
    (redriven,) = [
        r for r in records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS))
        if r.key == b"default"
    ]  # fmt: skip
    assert redriven.value == value and list(redriven.headers) == headers
