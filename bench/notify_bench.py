"""The notifier's pace at two sizes of organisation (issue 21), and its exit on TERM with a
backlog (issue 27), each figure beside a bare aiokafka consumer on the same records.

For each size: a generated bureau's history (tests/support/history.py) is published and read by
the notifier (events/s over the history), then a burst of its last quarter's activity (events/s
from the first publish until the notifier's stored offsets reach the end of the log), then a
second burst, and a SIGTERM a few seconds into it (seconds until the process exits).

    set -a; source .run/test/mingdeng.env; set +a
    uv run --frozen python bench/notify_bench.py [--root /path/to/other/checkout] [--sizes 150 20000]

`--root` runs another checkout's notifier (its .venv) on the same records: before and after.
Writes bench/results/notify-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scoring_bench import machine, publish  # noqa: E402

from mingdeng.contracts.periods import Quarter  # noqa: E402
from mingdeng.contracts.topics import EVENTS  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from tests.support.history import Bureau, HistoryRecord, history  # noqa: E402
from tests.support.processes import Service, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BURST = 30_000


def bureau(members: int) -> Bureau:
    """The seed's size over two years, or a large bureau over one quarter."""
    small = members < 1000
    return Bureau(
        members=members,
        departments=max(12, members // 50),
        branches=max(5, members // 1000),
        first_quarter=Quarter(2024, 1),
        quarters=8 if small else 1,
        activity_per_member_quarter=20 if small else 2,
        close_quarters=small,
    )


def split(members: int) -> tuple[list[HistoryRecord], list[HistoryRecord], list[HistoryRecord]]:
    """The history, a burst and a backlog: the registry first, then the activity in a fixed
    random order, so that each part holds every kind (in time order the last are KPI reports)."""
    plan = bureau(members)
    records = list(history(plan))
    registry = (
        plan.branches + plan.departments + 5 * plan.members
    )  # a member, 2 households, 2 pairings
    activity = records[registry:]
    random.Random(1).shuffle(activity)
    size = min(BURST, len(activity) // 3)
    return records[:registry] + activity[: -2 * size], activity[-2 * size : -size], activity[-size:]


async def stored_position(database: str, consumer: str, topic: str) -> int:
    connection = await asyncpg.connect(database)
    try:
        return int(
            await connection.fetchval(
                """SELECT coalesce(sum(next_offset), 0) FROM public.consumer_offsets
                   WHERE consumer = $1 AND topic = $2""",
                consumer,
                topic,
            )
        )
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


async def log_end(kafka: KafkaSettings) -> int:
    """The end of the inbound log, as the notifier's stored offsets would reach it: the offset
    after the last record of each partition (a transaction marker is not a record)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def bare_consumer(kafka: KafkaSettings, skip: int) -> float:
    """The limit: an aiokafka consumer reading the last records of the log (after `skip` of
    them, spread over the partitions as published) and doing nothing else; records/s."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        fraction = 1 - skip / max(1, sum(ends.values()))
        for tp in tps:
            consumer.seek(tp, int(ends[tp] * (1 - fraction)))
        count, started = 0, time.monotonic()
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batches = await consumer.getmany(timeout_ms=500, max_records=10000)
            count += sum(len(b) for b in batches.values())
        return count / (time.monotonic() - started)
    finally:
        await consumer.stop()


class Rig:
    def __init__(self, root: Path, work: Path, members: int) -> None:
        tag = uuid.uuid4().hex[:8]
        base = os.environ["MINGDENG_DATABASE_URL"]
        self.admin_url, self.database = base, base.rsplit("/", 1)[0] + f"/bench_notify_{tag}"
        self.kafka = KafkaSettings(
            bootstrap_servers=os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=f"bench-notify-{tag}.",
        )
        self.consumer = self.kafka.group("mingdeng-notify")
        self.topic = self.kafka.topic(EVENTS)
        port = free_port()
        self.health = f"http://127.0.0.1:{port}/healthz"
        self.env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "MINGDENG_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "MINGDENG_DATABASE_URL": self.database,
            "MINGDENG_NOTIFY_HEALTH_PORT": str(port),
            "MINGDENG_NOTIFY_SINK_FILE": str(work / f"sms-{tag}.jsonl"),
        }
        self.notify = Service(["mingdeng-notify", "run"], self.env, work / f"notify-{tag}.log")
        self.binary = root / ".venv" / "bin" / "mingdeng-notify"
        self.members = members

    async def create(self) -> None:
        connection = await asyncpg.connect(self.admin_url)
        await connection.execute(f'CREATE DATABASE "{self.database.rsplit("/", 1)[1]}"')
        await connection.close()
        ensure_topics(self.kafka)
        done = await asyncio.create_subprocess_exec(
            str(self.binary), "prestart", env={**os.environ, **self.env}
        )
        assert await done.wait() == 0

    def start(self) -> None:
        self.notify.command = [str(self.binary), "run"]
        self.notify.start(self.health)

    async def caught_up(self, end: int, limit_s: float) -> tuple[int, float, bool]:
        """Wait until the notifier has stored offsets up to `end`, or `limit_s`; (records
        the position moved, seconds, whether it reached `end`)."""
        started, first = (
            time.monotonic(),
            await stored_position(self.database, self.consumer, self.topic),
        )
        position = first
        while position < end and time.monotonic() - started < limit_s:
            await asyncio.sleep(0.25)
            position = await stored_position(self.database, self.consumer, self.topic)
        return position - first, time.monotonic() - started, position >= end


async def measure(root: Path, members: int, limit_s: float) -> dict[str, Any]:
    work = ROOT / ".run" / "bench-notify"
    work.mkdir(parents=True, exist_ok=True)
    rig = Rig(root, work, members)
    await rig.create()
    past, burst, backlog = split(members)
    result: dict[str, Any] = {"members": members, "history_events": len(past), "burst": len(burst)}
    await publish(rig.kafka, past)
    end = await log_end(rig.kafka)
    rig.start()
    try:
        moved, seconds, complete = await rig.caught_up(end, limit_s)
        result["history_events_per_s"] = round(moved / seconds)
        result["history_complete"] = complete
        if not complete:
            return result  # too slow to measure the burst on top of it within the limit
        started = time.monotonic()
        await publish(rig.kafka, burst)
        end = await log_end(rig.kafka)
        moved, _, _ = await rig.caught_up(end, limit_s)
        result["notify_events_per_s"] = round(moved / (time.monotonic() - started))
        result["bare_consumer_events_per_s"] = round(
            await bare_consumer(rig.kafka, end - len(burst))
        )

        await publish(rig.kafka, backlog)
        await asyncio.sleep(3)  # well into the backlog
        behind = await log_end(rig.kafka) - await stored_position(
            rig.database, rig.consumer, rig.topic
        )
        assert rig.notify.process is not None
        asked = time.monotonic()
        rig.notify.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(rig.notify.process.wait, 60)
        result["term_exit_s"] = round(time.monotonic() - asked, 2)
        result["term_exit_code"] = code
        result["term_backlog_records"] = behind
    finally:
        rig.notify.kill_if_running()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose notifier runs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 20_000])
    parser.add_argument("--limit-s", type=float, default=300, help="per phase")
    args = parser.parse_args()
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "root": str(args.root),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "sizes": [await measure(args.root, size, args.limit_s) for size in args.sizes],
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    name = "notify" if args.root == ROOT else "notify-before"
    (RESULTS / f"{name}-{datetime.now(UTC).date()}.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
