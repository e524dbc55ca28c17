"""Outreach keeping pace at any size, each figure beside a bare aiokafka consumer on the same
records in the same run (issue 21).

For each bureau (about 130 and 20,000 members) and each history (about 10,000 and 1,000,000
events before the burst):
- the history goes straight into outreach's event table (as if it had been consumed), and the
  service is started: seconds until it answers (it folds the whole table at start) and its RSS;
- a burst of 100,000 activity events (household visits, volunteering, community reports, dated
  now) is published: events/s from the first publish until outreach has stored the offsets of
  the last; the bare consumer then reads the same records;
- the longest answer of its /healthz (nothing but the event loop) and /metrics during the
  burst;
- coverage freshness: household visits at 500 events/s, every 50th a probe member's first visit
  in the month; from its publish to the member's `coverage_member/<month>/…` line on `mingdeng.outreach.v1`
  that counts it.

Writes bench/results/outreach-<date>.json and bench/results/outreach-latest.json.
Needs the tests' broker and database: `deploy/bench.sh` starts them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.scoring_bench import machine, new_rig, publish, remove, rss_mib  # noqa: E402
from mingdeng.contracts.codec import parse_event  # noqa: E402
from mingdeng.contracts.outreach_views import MemberCoverage, OutreachView  # noqa: E402
from mingdeng.contracts.periods import Quarter, month_of  # noqa: E402
from mingdeng.contracts.topics import EVENTS, OUTREACH  # noqa: E402
from mingdeng.outreach.domain.state import READS  # noqa: E402
from mingdeng.outreach.domain.views import OutreachViews  # noqa: E402
from mingdeng.outreach.service import APPLY_STEP, STEP  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from tests.support.history import SOURCE, Bureau, HistoryRecord, history  # noqa: E402
from tests.support.processes import Service, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
GROUP = "mingdeng-outreach"
BURST = 100_000
OUTREACH_TYPES = {kind.event_type for kind in READS}


def bureau(members: int, events: int) -> Bureau:
    """A bureau of `members` whose history holds about `events` events (registry included)."""
    per_quarter = members * 21 + int(0.9 * 3 * members)
    quarters = max(1, round((events - 5 * members) / per_quarter))
    activity = 20 if quarters > 1 or events > 6 * members + per_quarter else 2
    first = Quarter.of(datetime.now(UTC))
    for _ in range(quarters + 1):
        first = first.previous()
    return Bureau(
        members=members,
        departments=max(12, members // 500),
        first_quarter=first,
        quarters=quarters,
        activity_per_member_quarter=activity,
        close_quarters=False,
    )


def cloudevent(event_type: str, event_id: str, subject: str, when: datetime, data: dict) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0", "id": event_id, "source": SOURCE, "type": event_type,
            "subject": subject, "time": when.isoformat(), "datacontenttype": "application/json",
            "data": data,
        },
        ensure_ascii=False,
    ).encode()  # fmt: skip


def activity_burst(count: int, members: int, when: datetime, tag: str) -> list[HistoryRecord]:
    """New activity, dated now: half household visits, 40 % volunteering, 10 % community."""
    out = []
    for n in range(count):
        member = f"m{n % members:05d}"
        moment = when + timedelta(milliseconds=n)
        if n % 10 < 5:
            kind, data = "visit.made", {"visit_id": f"{tag}-{n}", "member_id": member,
                                        "kind": "household",
                                        "household_id": f"h{n % members:05d}{'ab'[n % 2]}"}  # fmt: skip
        elif n % 10 < 9:
            kind, data = "volunteer.logged", {"activity_id": f"{tag}-{n}", "member_id": member,
                                              "minutes": 60, "title": "志愿服务"}  # fmt: skip
        else:
            kind, data = "visit.made", {"visit_id": f"{tag}-{n}", "member_id": member,
                                        "kind": "community"}  # fmt: skip
        version = "v2" if kind == "volunteer.logged" else "v1"
        out.append(
            HistoryRecord(
                member.encode(),
                cloudevent(f"mingdeng.{kind}.{version}", f"{tag}-{n}", member, moment, data),
            )
        )
    return out


async def store_history(database_url: str, records: list[HistoryRecord]) -> int:
    """The history as outreach would have kept it: its inbound events, in its table."""
    rows = []
    for record in records:
        document = json.loads(record.value)
        if document["type"] in OUTREACH_TYPES:
            rows.append(
                (
                    document["source"],
                    document["id"],
                    document["type"],
                    datetime.fromisoformat(document["time"]),
                    record.value.decode(),
                )
            )
    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "events",
            schema_name="outreach",
            records=rows,
            columns=["source", "id", "type", "time", "body"],
        )
    finally:
        await connection.close()
    return len(rows)


async def topic_ends(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def stored_offsets(database_url: str, group: str) -> dict[TopicPartition, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT topic, partition, coalesce(next_offset, 0) AS next_offset"
            " FROM public.consumer_offsets WHERE consumer = $1",
            group,
        )
    finally:
        await connection.close()
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def wait_caught_up(
    database_url: str, group: str, ends: dict[TopicPartition, int], service: Service
) -> None:
    while True:
        assert service.process is not None and service.process.poll() is None, "outreach ended"
        stored = await stored_offsets(database_url, group)
        if all(stored.get(tp, 0) >= end for tp, end in ends.items() if end > 0):
            return
        await asyncio.sleep(0.1)


async def bare_consumer(kafka: KafkaSettings, starts: dict[TopicPartition, int]) -> float:
    """The limit: an aiokafka consumer reading the same records and doing nothing else."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        tps = list(starts)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        total = sum(ends[tp] - starts[tp] for tp in tps)
        count, started = 0, time.monotonic()
        while count < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=10000)
            count += sum(len(b) for b in batches.values())
        return count / (time.monotonic() - started)
    finally:
        await consumer.stop()


async def longest_answer(url: str, stop: asyncio.Event) -> float:
    """The longest answer (ms) of `url` while `stop` is not set."""
    longest = 0.0
    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            started = time.monotonic()
            await client.get(url)
            longest = max(longest, (time.monotonic() - started) * 1000)
            await asyncio.sleep(0.2)
    return longest


async def coverage_freshness(
    kafka: KafkaSettings, members: int, probes: int, rate: int, when: datetime
) -> dict[str, float]:
    """Household visits at `rate`/s; every 50th is the first visit in the month of a probe
    member (paired beforehand): from its publish to the coverage record that counts it."""
    month = month_of(when)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        kafka.topic(OUTREACH),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="latest",
        fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=64 << 20,
    )
    await consumer.start()
    await consumer.seek_to_end()

    async def watch() -> None:
        lines = f"coverage_member/{month}/".encode()
        async for message in consumer:
            if not message.key.startswith(lines):
                continue
            arrived = time.monotonic()
            row = OutreachView.model_validate_json(message.value).body
            if isinstance(row, MemberCoverage) and row.visited:
                member = row.member_id
                if member in sent and member not in seen:
                    seen[member] = (arrived - sent[member]) * 1000

    watcher = asyncio.create_task(watch())
    load = activity_burst(probes * 50, members, when, f"fresh-{time.time_ns()}")
    visits = [r for r in load if b'"household"' in r.value]
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=0)
    await producer.start()
    started = time.monotonic()
    for n in range(probes * 50):
        if n % 50 == 0:
            probe = f"probe{n // 50:04d}"
            record = HistoryRecord(
                probe.encode(),
                cloudevent("mingdeng.visit.made.v1", f"{probe}-visit-{time.time_ns()}", probe,
                           when, {"visit_id": f"{probe}-{time.time_ns()}", "member_id": probe,
                                  "kind": "household", "household_id": f"{probe}-h"}),
            )  # fmt: skip
            await (await producer.send(kafka.topic(EVENTS), record.value, key=record.key))
            sent[probe] = time.monotonic()
        else:
            record = visits[n % len(visits)]
            await producer.send(kafka.topic(EVENTS), record.value, key=record.key)
        delay = started + (n + 1) / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await producer.stop()
    deadline = time.monotonic() + 120
    while len(seen) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    watcher.cancel()
    await consumer.stop()
    latencies = sorted(seen.values())
    return {
        "offered_per_s": rate,
        "probes": len(sent),
        "seen": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else -1,
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1) if latencies else -1,
    }


def probe_registry(probes: int, when: datetime) -> list[HistoryRecord]:
    out = []
    for n in range(probes):
        probe, household = f"probe{n:04d}", f"probe{n:04d}-h"
        out += [
            HistoryRecord(probe.encode(), cloudevent(
                "mingdeng.member.registered.v1", f"{probe}-reg", probe, when,
                {"member_id": probe, "name": "探针", "department_id": "d000", "roles": ["member"],
                 "party_member": True})),
            HistoryRecord(household.encode(), cloudevent(
                "mingdeng.household.registered.v1", f"{household}-reg", household, when,
                {"household_id": household, "village": "村", "head_name": "户主"})),
            HistoryRecord(household.encode(), cloudevent(
                "mingdeng.household.paired.v1", f"{household}-pair", household, when,
                {"household_id": household, "member_id": probe})),
        ]  # fmt: skip
    return out


async def one_bureau(
    bootstrap: str, database_url: str, members: int, events: int, freshness: bool
) -> dict[str, Any]:
    rig, database = await new_rig(bootstrap, database_url, f"outreach-{members}-{events}")
    env = {**rig.env, "MINGDENG_OUTREACH_HEALTH_PORT": str(free_port())}
    url = f"http://127.0.0.1:{env['MINGDENG_OUTREACH_HEALTH_PORT']}"
    group = rig.kafka.group(GROUP)
    result: dict[str, Any] = {"members": members, "load_average_at_start": os.getloadavg()}
    try:
        prestart = subprocess.run(
            [str(ROOT / ".venv/bin/mingdeng-outreach"), "prestart"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert prestart.returncode == 0, prestart.stderr
        records = list(history(bureau(members, events)))
        result["history_events"] = len(records)
        result["history_stored_by_outreach"] = await store_history(
            env["MINGDENG_DATABASE_URL"], records
        )
        del records
        print(f"{members} members, {result['history_events']:,} events: starting", flush=True)
        service = Service(["mingdeng-outreach", "run"], env, rig.work / "outreach.log")
        started = time.monotonic()
        service.start(f"{url}/healthz", timeout_s=1800)
        result["start_s"] = round(time.monotonic() - started, 1)
        assert service.process is not None
        result["rss_mib_after_start"] = round(rss_mib(service.process.pid), 1)
        await publish(rig.kafka, probe_registry(20, datetime.now(UTC) - timedelta(days=1)))
        await wait_caught_up(
            env["MINGDENG_DATABASE_URL"], group, await topic_ends(rig.kafka), service
        )
        await asyncio.sleep(3)  # its first refresh of everything

        starts = await topic_ends(rig.kafka)
        burst = activity_burst(BURST, members, datetime.now(UTC), "burst")
        stop = asyncio.Event()
        held = asyncio.create_task(longest_answer(f"{url}/healthz", stop))  # the loop held
        metrics = asyncio.create_task(longest_answer(f"{url}/metrics", stop))
        began = time.monotonic()
        await publish(rig.kafka, burst)
        await wait_caught_up(
            env["MINGDENG_DATABASE_URL"], group, await topic_ends(rig.kafka), service
        )
        seconds = time.monotonic() - began
        stop.set()
        result["outreach_events_per_s"] = round(BURST / seconds)
        result["longest_healthz_answer_ms_during_burst"] = round(await held, 1)
        result["longest_metrics_answer_ms_during_burst"] = round(await metrics, 1)
        result["limit_consumer_events_per_s"] = round(await bare_consumer(rig.kafka, starts))
        result["load_average_after_burst"] = os.getloadavg()
        result["rss_mib_after_burst"] = round(rss_mib(service.process.pid), 1)
        if freshness:
            print("coverage freshness", flush=True)
            result["coverage_freshness"] = await coverage_freshness(
                rig.kafka, members, 20, 500, datetime.now(UTC)
            )
        print(json.dumps(result), flush=True)
        result["stop_s"] = time.monotonic()
        service.stop(timeout_s=600)
        result["stop_s"] = round(time.monotonic() - result["stop_s"], 1)
        return result
    finally:
        await remove(bootstrap, database_url, [rig.kafka.topic_prefix], database)


def steps_in_process(members: int, events: int) -> dict[str, Any]:
    """The views alone, in this process, in CPU time of this thread (the machine is shared:
    wall time would count other processes): folding the history, then the burst in batches of
    500 with a refresh after each, as the service does; the longest single step."""
    now = datetime.now(UTC)
    views = OutreachViews(now)
    started = time.thread_time()
    for record in history(bureau(members, events)):
        document = json.loads(record.value)
        if document["type"] in OUTREACH_TYPES:
            views.apply(parse_event(document))
    fold_s = time.thread_time() - started
    gc.collect()
    gc.freeze()  # as the service does after its load
    longest = 0.0

    def step(work: Callable[[], object]) -> None:
        nonlocal longest
        began = time.thread_time()
        work()
        longest = max(longest, time.thread_time() - began)

    def refresh(moment: datetime) -> None:
        while True:
            began = time.thread_time()
            done = views.settle(moment, STEP)
            step_s = time.thread_time() - began
            nonlocal longest
            longest = max(longest, step_s)
            if done:
                break
        for ref in views.take_views():
            step(lambda ref=ref: views.publication(ref, moment))  # type: ignore[misc]

    began = time.thread_time()
    refresh(now)
    first_refresh_s = time.thread_time() - began
    longest_at_start, longest = longest, 0.0
    burst = [
        parse_event(json.loads(r.value)) for r in activity_burst(BURST, members, now, "in-process")
    ]
    gc.freeze()  # the burst is held here, not in the service: out of the collector's walks
    began = time.thread_time()
    for first in range(0, BURST, 500):
        for part in range(first, first + 500, APPLY_STEP):  # as the service's handler
            step(lambda part=part: [views.apply(e) for e in burst[part : part + APPLY_STEP]])  # type: ignore[misc]
        refresh(now + timedelta(milliseconds=first))
    burst_s = time.thread_time() - began
    return {
        "fold_history_cpu_s": round(fold_s, 1),
        "first_refresh_cpu_s": round(first_refresh_s, 1),
        "longest_step_ms_at_start": round(longest_at_start * 1000, 1),
        "burst_events_per_cpu_s": round(BURST / burst_s),
        "longest_step_ms_in_burst": round(longest * 1000, 1),
    }


async def run(bootstrap: str, database_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "measured_at": datetime.now(UTC).isoformat()}
    sizes = json.loads(
        os.environ.get(
            "OUTREACH_BENCH_SIZES",
            "[[130, 10000], [130, 1000000], [20000, 110000], [20000, 1000000]]",
        )
    )
    if os.environ.get("OUTREACH_BENCH_IN_PROCESS"):
        results["in_process"] = []
        for members, events in sizes:
            print(f"in process: {members} members, {events:,} events", flush=True)
            figures = {"members": members, "events": events, **steps_in_process(members, events)}
            print(json.dumps(figures), flush=True)
            results["in_process"].append(figures)
        return results
    runs = []
    for members, events in sizes:
        runs.append(await one_bureau(bootstrap, database_url, members, events, members <= 130))
        (RESULTS / "outreach-partial.json").write_text(json.dumps(runs, indent=1))
    results["runs"] = runs
    at_130 = [r for r in runs if r["members"] <= 130]
    at_20k = [r for r in runs if r["members"] >= 20000]
    if at_130:
        results["outreach_events_per_s"] = min(r["outreach_events_per_s"] for r in at_130)
        fresh = [r["coverage_freshness"]["p99_ms"] for r in at_130 if "coverage_freshness" in r]
        if fresh:
            results["coverage_freshness_p99_ms_at_500_outreach_alone"] = max(fresh)
    if at_20k:
        results["outreach_events_per_s_at_20k"] = min(r["outreach_events_per_s"] for r in at_20k)
    return results


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(
        run(os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"], os.environ["MINGDENG_DATABASE_URL"])
    )
    text = json.dumps(results, indent=1, ensure_ascii=False)
    (RESULTS / f"outreach-{results['measured_at'][:10]}.json").write_text(text)
    (RESULTS / "outreach-latest.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
