"""Outreach and notify as 1 and 2 instances on the same burst (issue 26 item 4, ADR 0005).

For each service and each count of instances: a run of its own (topics, database), the
instances started and their partitions claimed, then a burst of `BURST` events of eight
agencies keyed by agency (household visits and lecture attendances, dated now) published at
full speed; events/s from the first publish until the group has stored the offsets of the last
record and no forwarded record is left. The bare consumer reads the same records after.

Writes bench/results/instances-<date>.json and bench/results/instances-latest.json.
Needs the tests' broker and database: `deploy/bench.sh` starts them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.scoring_bench import bare_consumer, machine, new_rig, remove  # noqa: E402
from mingdeng.contracts import events as ev  # noqa: E402
from mingdeng.contracts.codec import serialize_event  # noqa: E402
from mingdeng.contracts.topics import EVENTS  # noqa: E402
from tests.support.builders import Events  # noqa: E402
from tests.support.history import HistoryRecord  # noqa: E402
from tests.support.processes import Service, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BURST = int(os.environ.get("INSTANCES_BURST", "20000"))
AGENCIES = [f"bench{n}" for n in range(8)]
HEALTH_PORT = {"outreach": "MINGDENG_OUTREACH_HEALTH_PORT", "notify": "MINGDENG_NOTIFY_HEALTH_PORT"}


def burst(count: int) -> list[HistoryRecord]:
    builders = {agency: Events(agency=agency, prefix=f"{agency}-") for agency in AGENCIES}
    now = datetime.now(UTC)
    records = []
    for n in range(count):
        agency = AGENCIES[n % len(AGENCIES)]
        e = builders[agency]
        member = f"m{n % 500}"
        event = (
            e.household_visit(member, f"h{n % 700}", now)
            if n % 2
            else e(ev.LectureAttended(lecture_id=f"L{n % 40}", member_id=member), now)
        )
        records.append(HistoryRecord(agency.encode(), serialize_event(event)))
    return records


async def publish_all(bootstrap: str, topic: str, records: list[HistoryRecord]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10,
                                max_batch_size=1 << 20)  # fmt: skip
    await producer.start()
    try:
        pending = [await producer.send(topic, r.value, key=r.key) for r in records]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def stored(connection: asyncpg.Connection, topic: str) -> tuple[int, int, int]:
    """Partitions claimed, offsets stored, and records forwarded and not yet applied."""
    claimed, offsets = await connection.fetchrow(
        "SELECT count(*), coalesce(sum(next_offset), 0) FROM public.consumer_offsets"
        " WHERE topic = $1",
        topic,
    )
    forwarded = await connection.fetchval("SELECT count(*) FROM public.forwarded_records")
    return claimed, offsets, forwarded


async def one_run(
    bootstrap: str, database_url: str, service: str, instances: int
) -> dict[str, Any]:
    rig, database = await new_rig(bootstrap, database_url, f"inst-{service}{instances}")
    topic = rig.kafka.topic(EVENTS)
    started: list[Service] = []
    try:
        done = subprocess.run([str(ROOT / f".venv/bin/mingdeng-{service}"), "prestart"],
                              env={**os.environ, **rig.env}, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        for n in range(instances):
            port = str(free_port())
            env = {**rig.env, HEALTH_PORT[service]: port, "MINGDENG_KAFKA_INSTANCE": f"bench-{n}"}
            process = Service([f"mingdeng-{service}", "run"], env, rig.work / f"{service}{n}.log")
            process.start(f"http://127.0.0.1:{port}/healthz")
            started.append(process)
        records = burst(BURST)
        connection = await asyncpg.connect(rig.env["MINGDENG_DATABASE_URL"])
        try:
            while (await stored(connection, topic))[0] < EVENTS.partitions:
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # the group settled (a second join rebalances once more)
            began = time.monotonic()
            await publish_all(bootstrap, topic, records)
            while True:
                _, offsets, forwarded = await stored(connection, topic)
                if offsets >= BURST and not forwarded:
                    break
                await asyncio.sleep(0.05)
            seconds = time.monotonic() - began
            parked = await connection.fetchval("SELECT count(*) FROM public.parked_records")
        finally:
            await connection.close()
        bare = await bare_consumer(rig.kafka)
        return {"service": service, "instances": instances, "events": BURST,
                "events_per_s": round(BURST / seconds), "seconds": round(seconds, 2),
                "bare_consumer_events_per_s": round(bare), "parked": parked}  # fmt: skip
    finally:
        for process in started:
            process.stop()
        await remove(bootstrap, database_url, [rig.kafka.topic_prefix], database)


async def run(bootstrap: str, database_url: str) -> dict[str, Any]:
    runs = []
    for service in ("outreach", "notify"):
        for instances in (1, 2):
            result = await one_run(bootstrap, database_url, service, instances)
            print(json.dumps(result), flush=True)
            runs.append(result)
    return {"machine": machine(), "at": datetime.now(UTC).isoformat(), "runs": runs}


def main() -> None:
    results = asyncio.run(
        run(os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], os.environ["MINGDENG_DATABASE_URL"])
    )
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (RESULTS / f"instances-{datetime.now(UTC):%Y-%m-%d}.json").write_text(text)
    (RESULTS / "instances-latest.json").write_text(text)


if __name__ == "__main__":
    main()
