"""Agencies on one platform (issue 25): the upgrade of a one-agency installation, and the
机关工委's close of a quarter for all its agencies (docs/operations.md, "Agencies").

- `upgrade`: a one-agency installation's whole history is the default agency's (`default`,
  docs/events.md). The upgrade registers that agency in the tree under its name and 机关工委
  (`agency.registered`, read by the gateway into `gateway.agencies`), then checks that a replay
  of the whole log (`mingdeng-scoring replay`) gives exactly the final standings the
  installation had before: nothing of the history moved to another agency or changed.
- `close_quarter`: reads the agency tree (`gateway.agencies`) and publishes a
  `quarter.closed` for each agency of the committee, keyed by its agency; then waits until
  each agency's selection of the quarter is final.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import EVENTS, RANKINGS, SCORES, SELECTIONS, Topic
from mingdeng.runtime.settings import KafkaSettings

SOURCE = "/mingdeng/ops"  # the platform's own source: it may publish for any agency
FINAL_TOPICS = (SCORES, RANKINGS, SELECTIONS)  # what `mingdeng-scoring replay` recomputes
Finals = dict[tuple[str, str], Any]  # (topic, key) -> the final value, as JSON


def publish_keyed_by_agency(kafka: KafkaSettings, events: Iterable[Event[EventData]]) -> int:
    """Publish to the inbound topic, each event keyed by its agency (acks=all, idempotent)."""
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        client_id="mingdeng-ops",
    )
    count = 0
    try:
        for event in events:
            producer.send(
                kafka.topic(EVENTS),
                key=event.partition_key.encode(),
                value=serialize_event(event),
            ).get(30)
            count += 1
    finally:
        producer.close()
    return count


def newest_values(kafka: KafkaSettings, topic: Topic) -> dict[str, bytes]:
    """The newest value of every key of a compacted topic, as of now (tombstones remove)."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    name = kafka.topic(topic)
    values: dict[str, bytes] = {}
    try:
        partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                for record in batch:
                    if record.key is None:
                        continue
                    if record.value is None:
                        values.pop(record.key.decode(), None)
                    else:
                        values[record.key.decode()] = record.value
    finally:
        consumer.close()
    return values


def live_finals(kafka: KafkaSettings) -> Finals:
    """Every final result scoring has published (scores, rankings, selections)."""
    finals: Finals = {}
    for topic in FINAL_TOPICS:
        for key, value in newest_values(kafka, topic).items():
            document = json.loads(value)
            if isinstance(document, dict) and document.get("status") == "final":
                finals[(topic.name, key)] = document
    return finals


def replayed_finals(environment: dict[str, str] | None = None) -> Finals:
    """The final results a replay of the whole inbound log gives (`mingdeng-scoring replay`,
    which prints every result it recomputes as a JSON line)."""
    beside = Path(sys.argv[0]).resolve().parent / "mingdeng-scoring"
    command = str(beside) if beside.exists() else shutil.which("mingdeng-scoring")
    if command is None:
        raise RuntimeError("mingdeng-scoring is not installed beside mingdeng, nor on the PATH")
    done = subprocess.run(
        [command, "replay"], capture_output=True, text=True, env=environment, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"mingdeng-scoring replay exited {done.returncode}: {done.stderr[-2000:]}"
        )
    finals: Finals = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            value = result["value"]
            if isinstance(value, dict) and value.get("status") == "final":
                finals[(result["topic"], result["key"])] = value
    return finals


def differences(before: Finals, after: Finals) -> list[str]:
    """The results that differ, as `topic key` lines (missing on one side counts)."""
    return [
        f"{topic} {key}"
        for topic, key in sorted(before.keys() | after.keys())
        if before.get((topic, key)) != after.get((topic, key))
    ]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(1)


def upgrade(
    kafka: KafkaSettings,
    name: str,
    committee_id: str,
    parent_agency_id: str | None,
    environment: dict[str, str] | None = None,
) -> int:
    """Register the installation's agency (the default one) in the tree; then check that a
    replay gives the final standings the installation had. 0 when they are equal."""
    before = live_finals(kafka)
    print(f"{len(before)} final results before the upgrade")
    registration = new_event(
        ev.AgencyRegistered(
            agency_id=DEFAULT_AGENCY,
            name=name,
            committee_id=committee_id,
            parent_agency_id=parent_agency_id,
        ),
        source=SOURCE,
        event_id=f"agency-{DEFAULT_AGENCY}-{datetime.now(UTC):%Y%m%dT%H%M%S}",
    )
    publish_keyed_by_agency(kafka, [registration])
    print(
        f"registered the installation's agency {DEFAULT_AGENCY!r} as {name} "
        f"(机关工委 {committee_id}{', under ' + parent_agency_id if parent_agency_id else ''})"
    )
    after = replayed_finals(environment)
    differing = differences(before, after)
    for line in differing[:20]:
        print(f"differs: {line}", file=sys.stderr)
    print(f"a replay gives {len(after)} final results; {len(differing)} differ from before")
    return 1 if differing else 0


async def committee_agencies(connection: asyncpg.Connection, committee_id: str) -> list[str]:
    """The agencies of a 机关工委, from the gateway's agency tree."""
    rows = await connection.fetch(
        "SELECT agency_id FROM gateway.agencies WHERE committee_id = $1 ORDER BY agency_id",
        committee_id,
    )
    return [row["agency_id"] for row in rows]


def selection_key(agency_id: str, quarter: str) -> str:
    """The key of an agency's quarter selection on the selections topic (scoring's rule)."""
    return quarter if agency_id == DEFAULT_AGENCY else f"{agency_id}/{quarter}"


def final_agencies(kafka: KafkaSettings, agencies: Iterable[str], quarter: str) -> set[str]:
    selections = newest_values(kafka, SELECTIONS)
    return {
        agency
        for agency in agencies
        if (value := selections.get(selection_key(agency, quarter))) is not None
        and json.loads(value).get("status") == "final"
    }


def close_quarter(
    kafka: KafkaSettings, agencies: list[str], quarter: str, now: datetime, wait_s: float
) -> int:
    """Publish a close of `quarter` for each agency; wait (up to `wait_s`) until each is
    final. 0 when all are."""
    ends = Quarter.parse(quarter).end
    if ends > now:
        print(f"{quarter} has not ended (it ends {ends.isoformat()}): nothing closed")
        return 1
    if not agencies:
        print("no agency of this 机关工委 is registered: nothing closed")
        return 1
    closes = [
        new_event(
            ev.QuarterClosed(quarter=quarter),
            source=SOURCE,
            time=now,
            event_id=f"close-{agency}-{quarter}",
            agency=agency,
        )
        for agency in agencies
    ]
    publish_keyed_by_agency(kafka, closes)
    print(f"published a close of {quarter} for {len(closes)} agencies: {', '.join(agencies)}")
    if wait_s <= 0:
        return 0
    try:
        wait_until(
            lambda: final_agencies(kafka, agencies, quarter) == set(agencies),
            wait_s,
            f"{quarter} final for every agency",
        )
    except TimeoutError as error:
        missing = sorted(set(agencies) - final_agencies(kafka, agencies, quarter))
        print(f"{error}; still open: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{quarter} is final for all {len(agencies)} agencies")
    return 0
