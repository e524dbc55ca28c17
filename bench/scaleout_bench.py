"""Scoring's catch-up rate on one burst, with 1 or more workers (issue 26).

Several agencies' histories (tests/support/history.py, each keyed by its agency, ADR 0002) are
published to a fresh topic prefix; then N scoring workers start together and the bench times
how long until the group's committed offsets reach the end of the inbound log. The figure is
events/s from the workers' start (restore and group join included) to caught up; the machine's
load average is written beside it, as the machine is shared.

    uv run --frozen python bench/scaleout_bench.py [--workers 1] [--agencies 8] [--members 150]

Needs the tests' broker (`deploy/test.sh` or `make bench` start it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.topics import EVENTS  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from tests.support.history import Bureau, as_agency, history  # noqa: E402
from tests.support.processes import Service, free_port  # noqa: E402

GROUP = "mingdeng-scoring"


def agency_records(agencies: int, members: int, quarters: int) -> list[tuple[bytes, bytes]]:
    out = []
    for n in range(agencies):
        agency = f"a{n:03d}"
        bureau = Bureau(members=members, quarters=quarters, seed=11 + n)
        out += [(agency.encode(), as_agency(r.value, agency)) for r in history(bureau)]
    return out


async def publish(kafka: KafkaSettings, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=10, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(kafka.topic(EVENTS), value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def caught_up(
    kafka: KafkaSettings, admin: KafkaAdminClient, ends: dict[TopicPartition, int]
) -> bool:
    group = kafka.group(GROUP)
    committed = admin.list_group_offsets({group: None}).get(group, {})
    return all((committed[tp].offset if tp in committed else 0) >= end for tp, end in ends.items())


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and its reaped children (the checkpoint writers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def longest_busy_s(port: str) -> float:
    """The longest a batch kept the worker's event loop (and its heartbeats) busy."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("mingdeng_scoring_longest_busy_seconds "):
                return float(line.split()[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--agencies", type=int, default=8)
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--quarters", type=int, default=4)
    args = parser.parse_args()
    bootstrap = os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"]
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"sob-{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka)
    records = agency_records(args.agencies, args.members, args.quarters)
    asyncio.run(publish(kafka, records))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
    ends = consumer.end_offsets(tps)
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    work = ROOT / ".run" / "bench" / kafka.topic_prefix.rstrip(".")
    work.mkdir(parents=True, exist_ok=True)
    workers, ports = [], []
    load_before = os.getloadavg()
    started = time.monotonic()
    for n in range(args.workers):
        env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "MINGDENG_KAFKA_INSTANCE": f"bench-{n}",
            "MINGDENG_SCORING_DATA_DIR": str(work / f"state-{n}"),
            "MINGDENG_SCORING_WEB_PORT": str(free_port()),
            "MINGDENG_SCORING_PARTITIONED": "true" if args.workers > 1 else "false",
        }
        worker = Service(["mingdeng-scoring", "run"], env, work / f"scoring-{n}.log")
        worker.start(f"http://127.0.0.1:{env['MINGDENG_SCORING_WEB_PORT']}/healthz")
        workers.append(worker)
        ports.append(env["MINGDENG_SCORING_WEB_PORT"])
    try:
        while not caught_up(kafka, admin, ends):
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu_s = sum(cpu_seconds(w.process.pid) for w in workers if w.process is not None)
        busy_s = max(longest_busy_s(port) for port in ports)
        # a worker expelled from the group (its heartbeats late past the session) says so
        expelled = sum(
            w.log.read_text(errors="replace").count("Heartbeat session expired")
            + w.log.read_text(errors="replace").count("UnknownMemberId")
            for w in workers
        )
    finally:
        for worker in workers:
            worker.kill_if_running()
        admin.close()
    total = sum(ends.values())
    print(
        json.dumps(
            {
                "workers": args.workers,
                "events": total,
                "seconds": round(elapsed, 2),
                "events_per_s": round(total / elapsed),
                "worker_cpu_s": round(cpu_s, 1),
                "events_per_cpu_s": round(total / cpu_s),
                "longest_busy_s": round(busy_s, 2),
                "expelled_from_group": expelled,
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
