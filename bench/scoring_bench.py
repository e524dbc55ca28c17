"""Scoring at scale, each figure beside its limit measured in the same run (issue 9).

- limits: the producer publishing the history; a bare aiokafka consumer reading it back;
- history: a generated bureau of 2,000 members over 21 quarters (about 1,000,000 events), and
  the seed's size (130 members) over the same years;
- ingest: events/s from publish on Kafka until the scoring worker has caught up (Kafka to
  Kafka, with the whole history behind it), and end to end until the gateway's projector has
  the indices in PostgreSQL (a burst published on top of the history);
- freshness: p50/p99 from publish on Kafka to the change on the API's stream (`/v1/stream`), at
  100, 500 and 1,000 events/s offered;
- replay: `mingdeng-scoring replay` over the whole log;
- restart: stop, start, time until /readyz answers ready; the worker's RSS; at 100k and 1M.

Writes bench/results/scoring-<date>.json and .md, and bench/results/scoring-latest.json.
Needs the tests' broker and database: `make bench` starts them.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from mingdeng.contracts.periods import Quarter  # noqa: E402
from mingdeng.contracts.topics import BARRIER_HEADER, EVENTS  # noqa: E402
from mingdeng.gateway.adapters.projector import PROJECTED, PROJECTOR_GROUP  # noqa: E402
from mingdeng.gateway.adapters.tokens import issue_token  # noqa: E402
from mingdeng.gateway.domain.access import Principal  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from tests.support.history import SOURCE, Bureau, HistoryRecord, history  # noqa: E402
from tests.support.processes import Service, answers, free_port, wait_for  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SECRET = "bench-secret-0123456789abcdef0123456789"
BIG = Bureau(members=2000, departments=40, branches=5, first_quarter=Quarter(2021, 1), quarters=21)
SEED = Bureau(members=130, departments=12, branches=5, first_quarter=Quarter(2021, 1), quarters=21)
TARGETS = {
    "ingest_events_per_s": 5000,
    "freshness_p99_ms_at_1000": 300,
    "replay_events_per_s": 25000,
    "restart_to_ready_s_at_1m": 10,
    "worker_rss_mib_at_1m": 300,
}


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


@dataclass
class Rig:
    kafka: KafkaSettings
    env: dict[str, str]
    work: Path

    @property
    def scoring_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MINGDENG_SCORING_WEB_PORT']}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['MINGDENG_GATEWAY_PORT']}"


async def publish(
    kafka: KafkaSettings, records: list[HistoryRecord], rate: float | None = None
) -> float:
    """Publish as an upstream system (and the gateway, for closes) would; returns events/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        max_batch_size=1 << 20,
    )
    await producer.start()
    topic = kafka.topic(EVENTS)
    started = time.monotonic()
    try:
        pending = []
        for n, record in enumerate(records):
            if record.is_close:
                for p in range(EVENTS.partitions):
                    pending.append(
                        await producer.send(
                            topic,
                            record.value,
                            key=record.key,
                            partition=p,
                            headers=[(BARRIER_HEADER, b"1")],
                        )
                    )
            else:
                pending.append(await producer.send(topic, record.value, key=record.key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
            if rate:
                delay = started + (n + 1) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(records) / (time.monotonic() - started)


async def bare_consumer(kafka: KafkaSettings) -> float:
    """The limit: an aiokafka consumer that reads the inbound log and does nothing else."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        consumer.assign(tps)
        ends, starts = await consumer.end_offsets(tps), await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        count, started = 0, time.monotonic()
        total = sum(ends[tp] - starts[tp] for tp in tps)  # markers included: a bound, not a count
        while count < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=10000)
            if not batches and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
            count += sum(len(b) for b in batches.values())
        return count / (time.monotonic() - started)
    finally:
        await consumer.stop()


def start_scoring(rig: Rig) -> tuple[Service, float]:
    """Start the worker; seconds until /readyz says it has caught up."""
    worker = Service(["mingdeng-scoring", "run"], rig.env, rig.work / "scoring.log")
    started = time.monotonic()
    worker.start(f"{rig.scoring_url}/healthz")
    wait_for(lambda: answers(f"{rig.scoring_url}/readyz"), 3600, "scoring caught up")
    return worker, time.monotonic() - started


def restart(rig: Rig, worker: Service) -> tuple[Service, float, float]:
    assert worker.stop() == 0
    worker, seconds = start_scoring(rig)
    assert worker.process is not None
    return worker, seconds, rss_mib(worker.process.pid)


def replay(rig: Rig) -> float:
    done = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-scoring"), "replay"],
        env={**os.environ, **rig.env},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    found = re.search(r"replayed ([\d,]+) records in ([\d.]+) s", done.stdout)
    assert found, done.stdout[-500:] + done.stderr[-2000:]
    return int(found.group(1).replace(",", "")) / float(found.group(2))


async def projector_position(
    rig: Rig,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The ends of the topics the projector reads, and the offsets it has stored for them."""
    connection = await asyncpg.connect(rig.env["MINGDENG_DATABASE_URL"])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=rig.kafka.bootstrap_servers, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(rig.kafka.topic(t), p) for t in PROJECTED for p in range(t.partitions)
        ]
        ends = await consumer.end_offsets(tps)
        rows = await connection.fetch(
            "SELECT topic, partition, coalesce(next_offset, 0) AS next_offset"
            " FROM public.consumer_offsets WHERE consumer = $1",
            rig.kafka.group(PROJECTOR_GROUP),
        )
    finally:
        await consumer.stop()
        await connection.close()
    stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    return ends, stored


async def projector_caught_up(rig: Rig) -> bool:
    ends, stored = await projector_position(rig)
    # a transactional topic ends with a commit marker, which no consumer stores as read
    return all(stored.get(tp, 0) >= end - 1 for tp, end in ends.items() if end > 0)


async def skip_projector_to_the_end(rig: Rig) -> None:
    """The projector starts at the log's end: the bench measures it keeping up with new events
    on top of the history, not projecting the history (that is `mingdeng-gateway rebuild`)."""
    ends, _ = await projector_position(rig)
    connection = await asyncpg.connect(rig.env["MINGDENG_DATABASE_URL"])
    try:
        await connection.executemany(
            """INSERT INTO public.consumer_offsets (consumer, topic, partition, next_offset)
               VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, topic, partition)
               DO UPDATE SET next_offset = EXCLUDED.next_offset""",
            [
                (rig.kafka.group(PROJECTOR_GROUP), tp.topic, tp.partition, end)
                for tp, end in ends.items()
            ],
        )
    finally:
        await connection.close()


def burst(count: int, start: int, when: datetime, members: int = 2000) -> list[HistoryRecord]:
    """New activity on top of the history (volunteering in the open quarter)."""
    out = []
    for n in range(start, start + count):
        member = f"m{n % members:05d}"
        document = {
            "specversion": "1.0",
            "id": f"burst-{n}",
            "source": SOURCE,
            "type": "mingdeng.volunteer.logged.v2",
            "subject": member,
            "time": (when + timedelta(seconds=n % 3600)).isoformat(),
            "datacontenttype": "application/json",
            "data": {
                "activity_id": f"burst-{n}",
                "member_id": member,
                "minutes": 60,
                "title": "志愿服务",
            },
        }
        out.append(
            HistoryRecord(member.encode(), json.dumps(document, ensure_ascii=False).encode())
        )
    return out


def probe(n: int, when: datetime) -> HistoryRecord:
    """A new member: scoring adds them to every open quarter, the projector to the rankings,
    and the stream tells (GET /v1/stream): one change that is surely theirs."""
    member = f"probe-{n}"
    document = {
        "specversion": "1.0", "id": f"probe-{n}", "source": SOURCE,
        "type": "mingdeng.member.registered.v1", "subject": member, "time": when.isoformat(),
        "datacontenttype": "application/json",
        "data": {"member_id": member, "name": "探针", "department_id": "d000",
                 "roles": ["member"], "party_member": True},
    }  # fmt: skip
    return HistoryRecord(member.encode(), json.dumps(document, ensure_ascii=False).encode())


async def freshness(
    rig: Rig, rate: int, seconds: int, start: int, when: datetime
) -> dict[str, float]:
    """Publish at `rate` for `seconds`, every 20th event a probe; from its publish on Kafka to
    its change on the API's stream, held open by one client as a dashboard would."""
    headers = {
        "Authorization": "Bearer "
        + issue_token(SECRET, Principal("bench", "admin", None), timedelta(hours=2))
    }
    records = burst(rate * seconds, start, when)
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    listening = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", f"{rig.api}/v1/stream", headers=headers) as response,
        ):
            listening.set()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or '"probe-' not in line:
                    continue  # the client reads only its probes: it must not be the bottleneck
                member = json.loads(line[6:]).get("id", "")
                if member in sent and member not in latencies:
                    latencies[member] = (time.monotonic() - sent[member]) * 1000

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(listening.wait(), 10)
    producer = AIOKafkaProducer(
        bootstrap_servers=rig.kafka.bootstrap_servers, acks="all", linger_ms=0
    )
    await producer.start()
    started = time.monotonic()
    for n, record in enumerate(records):
        if n % 20 == 0:
            record = probe(start + n, when)
            await (await producer.send(rig.kafka.topic(EVENTS), record.value, key=record.key))
            sent[f"probe-{start + n}"] = time.monotonic()
        else:
            await producer.send(rig.kafka.topic(EVENTS), record.value, key=record.key)
        delay = started + (n + 1) / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await producer.stop()
    deadline = time.monotonic() + 60
    while len(latencies) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    listener.cancel()
    seen = sorted(latencies.values())
    return {
        "offered_per_s": rate,
        "probes": len(sent),
        "seen": len(seen),
        "p50_ms": round(statistics.median(seen), 1),
        "p99_ms": round(seen[max(0, int(len(seen) * 0.99) - 1)], 1),
    }


async def new_rig(bootstrap: str, database_url: str, name: str, **env: str) -> tuple[Rig, str]:
    """Topics, a database and a work folder of the run's own; the database's name."""
    tag = f"{name}-{uuid.uuid4().hex[:8]}"
    work = Path(f"/tmp/mingdeng-{tag}")
    work.mkdir()
    database = tag.replace("-", "_")
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"{tag}.")
    ensure_topics(kafka)
    settings = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "MINGDENG_DATABASE_URL": database_url.rsplit("/", 1)[0] + f"/{database}",
        "MINGDENG_SCORING_DATA_DIR": str(work / "scoring"),
        "MINGDENG_SCORING_WEB_PORT": str(free_port()),
        "MINGDENG_SCORING_READY_MAX_LAG": "0",
        "MINGDENG_GATEWAY_PORT": str(free_port()),
        "MINGDENG_GATEWAY_ENVIRONMENT": "test",
        "MINGDENG_GATEWAY_JWT_SECRET": SECRET,
    }
    return Rig(kafka, {**settings, **env}, work), database


async def run(bootstrap: str, database_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "measured_at": datetime.now(UTC).isoformat()}
    partial = RESULTS / "scoring-partial.json"  # each figure as soon as it is measured
    RESULTS.mkdir(parents=True, exist_ok=True)
    rig, database = await new_rig(bootstrap, database_url, "bench")
    kafka, work = rig.kafka, rig.work

    partial.write_text(json.dumps(results, indent=1))
    print("generating the history", flush=True)
    records = list(history(BIG))
    results["history"] = {
        "bureau": {
            "members": BIG.members,
            "departments": BIG.departments,
            "quarters": BIG.quarters,
            "first": str(BIG.first_quarter),
        },
        "events": len(records),
    }
    first, rest = records[:100_000], records[100_000:]

    partial.write_text(json.dumps(results, indent=1))
    print("publishing the first 100k", flush=True)
    producer_rate = await publish(kafka, first)
    worker, seconds = start_scoring(rig)
    results["ingest_100k"] = {
        "events": len(first),
        "seconds": round(seconds, 1),
        "events_per_s": round(len(first) / seconds),
    }
    worker, ready_100k, rss_100k = restart(rig, worker)
    results["restart_100k"] = {
        "restart_to_ready_s": round(ready_100k, 2),
        "worker_rss_mib": round(rss_100k, 1),
    }

    print(f"publishing the other {len(rest):,}", flush=True)
    assert worker.stop() == 0
    producer_rate = (producer_rate + await publish(kafka, rest)) / 2
    results["limit_producer_events_per_s"] = round(producer_rate)
    partial.write_text(json.dumps(results, indent=1))
    print("bare consumer", flush=True)
    results["limit_consumer_events_per_s"] = round(await bare_consumer(kafka))
    partial.write_text(json.dumps(results, indent=1))
    print("scoring the rest", flush=True)
    worker, seconds = start_scoring(rig)
    assert worker.process is not None
    results["scoring_events_per_s"] = round(len(rest) / seconds)
    results["worker_rss_mib_after_1m"] = round(rss_mib(worker.process.pid), 1)
    worker, ready_1m, rss_1m = restart(rig, worker)
    results["restart_to_ready_s_at_1m"] = round(ready_1m, 2)
    results["worker_rss_mib_at_1m"] = round(rss_1m, 1)

    partial.write_text(json.dumps(results, indent=1))
    print("replay", flush=True)
    results["replay_events_per_s"] = round(replay(rig))

    partial.write_text(json.dumps(results, indent=1))
    print("end to end, with the gateway's projector", flush=True)
    prestart = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-gateway"), "prestart"],
        env={**os.environ, **rig.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert prestart.returncode == 0, prestart.stderr
    await skip_projector_to_the_end(rig)
    gateway = Service(["mingdeng-gateway", "serve"], rig.env, work / "gateway.log")
    gateway.start(f"{rig.api}/healthz")
    try:
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        extra = burst(50_000, 0, now)
        started = time.monotonic()
        await publish(kafka, extra)
        settled = 0
        for _ in range(3600):
            settled = settled + 1 if await projector_caught_up(rig) else 0
            if settled == 2:  # twice in a row: not a partition one record short
                break
            await asyncio.sleep(0.25)
        seconds = time.monotonic() - started
        results["ingest_events_per_s"] = round(len(extra) / seconds)
        results["ingest"] = {
            "events": len(extra),
            "seconds": round(seconds, 1),
            "note": "publish on Kafka until the projector has every derived record in PostgreSQL, with 1M events of history",
        }
        results["freshness"] = []
        offset = 100_000
        for rate in (100, 500, 1000):
            print(f"freshness at {rate}/s", flush=True)
            results["freshness"].append(await freshness(rig, rate, 15, offset, now))
            offset += rate * 15
        results["freshness_p99_ms_at_1000"] = results["freshness"][-1]["p99_ms"]
    finally:
        gateway.kill_if_running()
        worker.kill_if_running()

    partial.write_text(json.dumps(results, indent=1))
    print("the seed's size", flush=True)
    seed_kafka = KafkaSettings(
        bootstrap_servers=bootstrap, topic_prefix=f"bench-seed-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(seed_kafka)
    seed_rig = Rig(
        seed_kafka,
        {
            **rig.env,
            "MINGDENG_KAFKA_TOPIC_PREFIX": seed_kafka.topic_prefix,
            "MINGDENG_SCORING_DATA_DIR": str(work / "seed"),
            "MINGDENG_SCORING_WEB_PORT": str(free_port()),
        },
        work,
    )
    seed_records = list(history(SEED))
    await publish(seed_kafka, seed_records)
    seed_worker, seconds = start_scoring(seed_rig)
    assert seed_worker.process is not None
    results["seed_size"] = {
        "events": len(seed_records),
        "scoring_events_per_s": round(len(seed_records) / seconds),
        "worker_rss_mib": round(rss_mib(seed_worker.process.pid), 1),
        "replay_events_per_s": round(replay(seed_rig)),
    }
    seed_worker.kill_if_running()
    results["targets"] = TARGETS
    await remove(bootstrap, database_url, [kafka.topic_prefix, seed_kafka.topic_prefix], database)
    return results


async def remove(bootstrap: str, database_url: str, prefixes: list[str], database: str) -> None:
    """The run's topics and database: a million events a run would fill the disk."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(tuple(prefixes))]
        await admin.delete_topics(names)
    finally:
        await admin.close()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Scoring benchmark ({results['measured_at'][:10]})",
        "",
        f"Machine: {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; Kafka and PostgreSQL on the same machine.",
        f"History: {results['history']['events']:,} events, {results['history']['bureau']['members']:,} members, {results['history']['bureau']['quarters']} quarters from {results['history']['bureau']['first']}.",
        "",
        "| figure | measured | target | limit in the same run |",
        "|---|---|---|---|",
        f"| ingest, publish → indices in PostgreSQL (events/s) | {results['ingest_events_per_s']:,} | ≥ 5,000 | consumer {results['limit_consumer_events_per_s']:,}, producer {results['limit_producer_events_per_s']:,} |",
        f"| scoring alone, Kafka → Kafka, with history (events/s) | {results['scoring_events_per_s']:,} | | consumer {results['limit_consumer_events_per_s']:,} |",
        f"| freshness p99 at 1,000/s (ms) | {results['freshness_p99_ms_at_1000']} | ≤ 300 | |",
        f"| replay (events/s) | {results['replay_events_per_s']:,} | ≥ 25,000 | consumer {results['limit_consumer_events_per_s']:,} |",
        f"| restart to ready at 1M (s) | {results['restart_to_ready_s_at_1m']} | ≤ 10 | |",
        f"| worker RSS at 1M (MiB) | {results['worker_rss_mib_at_1m']} | ≤ 300 | |",
        f"| restart to ready / RSS at 100k | {results['restart_100k']['restart_to_ready_s']} s / {results['restart_100k']['worker_rss_mib']} MiB | | |",
        "",
        "Freshness (publish on Kafka → the change on the API's stream, every 20th event a probe):",
        "",
        "| offered/s | probes | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *[
            f"| {f['offered_per_s']} | {f['seen']}/{f['probes']} | {f['p50_ms']} | {f['p99_ms']} |"
            for f in results["freshness"]
        ],
        "",
        f"Seed-size bureau ({results['seed_size']['events']:,} events): scoring {results['seed_size']['scoring_events_per_s']:,}/s, replay {results['seed_size']['replay_events_per_s']:,}/s, RSS {results['seed_size']['worker_rss_mib']} MiB.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    results = asyncio.run(
        run(os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], os.environ["MINGDENG_DATABASE_URL"])
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["measured_at"][:10]
    (RESULTS / f"scoring-{stamp}.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False)
    )
    (RESULTS / "scoring-latest.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    (RESULTS / f"scoring-{stamp}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
