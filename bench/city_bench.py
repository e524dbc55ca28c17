"""The city-sized bench (issue 26, item 5): 200 agencies, 30,000 members, >= 3,000,000 events.

One run, every figure from it, on topics and a database of its own:
1. the agencies' registrations (`agency.registered`, keyed by agency), then each agency's history
   (tests/support/history.py, 150 members an agency, keyed by agency as the gateway keys it)
   are produced straight to the inbound topic by a batching producer, the histories generated
   by a pool of processes meanwhile. The last quarter's closes are held back (step 6).
2. a bare aiokafka consumer reads the same records: the limit.
3. scoring, partitioned (MINGDENG_SCORING_PARTITIONED=true), 1 worker alone from offset 0 until
   the group's committed offsets are at the end of the log: catch-up events/s; its RSS; the
   size of each task's checkpoint.
4. scoring's state forgotten (as `mingdeng-scoring rebuild` would), then 2 workers together,
   the same catch-up; RSS of each.
5. 1,000 events/s offered with scoring alone running, and, one after another, closes of the
   held-back quarter of half the agencies asked: publish -> the agency's final selection.
6. failover: under a steady load one of the two workers is killed (-9, with its process group);
   the time until the group's committed offsets reach, on every partition, the end each
   partition had at the kill (the victim's partitions applied by the other); the victim is
   started again before the next trial.
7. notify, outreach and the gateway (its projector) start and read the history.
8. a burst of live activity as fast as the producer goes: each consumer's events/s, from the
   first publish until its position reaches the end of the log, and end to end: until the
   projector has also stored every score scoring published for the burst.
9. 1,000 events/s offered with every service running: freshness (publish a new member of one
   agency -> its score change on that agency's `/v1/stream`), and the other closes.
10. restart to ready, last (a restart that is never ready spoils no other stage): both workers
   stopped (TERM), 2 started together, then 1 alone: seconds until /readyz answers.
Stages 5-10 are each measured even when one before failed (its error is kept in the results).

The inbound topic keeps its 4 partitions (`EVENTS.partitions`): 2 a worker with 2 workers,
and the agencies' murmur2 homes spread over the 4 (printed). The machine's load average is
written beside each figure, as the machine is shared.

    set -a; source .run/test/mingdeng.env; set +a
    uv run --frozen python bench/city_bench.py [--agencies 200] [--members 30000]
        [--events 3000000] [--burst 200000] [--failover-trials 10]

Writes bench/results/city-<date>.json and city-latest.json, and merges the city keys into
bench/results/pipeline-latest.json. `make bench-city` runs it; `make bench` too, at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline_bench import SECRET, Rig, percentiles  # noqa: E402
from scoring_bench import bare_consumer, machine  # noqa: E402

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter  # noqa: E402
from mingdeng.contracts.topics import EVENTS, SCORES, SCORING_CHECKPOINTS, SELECTIONS, Topic  # noqa: E402
from mingdeng.gateway.adapters.projector import PROJECTOR_GROUP  # noqa: E402
from mingdeng.gateway.adapters.tokens import issue_token  # noqa: E402
from mingdeng.gateway.domain.access import Principal  # noqa: E402
from mingdeng.scoring.service import home_partition  # noqa: E402
from tests.support.history import Bureau, events_per_quarter, history  # noqa: E402
from tests.support.processes import Service, answers, free_port, wait_for  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REGISTRY_SOURCE = "/mingdeng/bench"
DEPARTMENTS, BRANCHES = 12, 5
FRESHNESS_RATE = 1000
FAILOVER_RATE = 500
SESSION_GONE_S = 10  # the scoring group's session (6 s, runtime.stream) and a margin
Record = tuple[bytes, bytes]


def log(message: str) -> None:
    load = os.getloadavg()[0]
    print(f"{time.strftime('%H:%M:%S')} [load {load:.1f}] {message}", flush=True)


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


# --- the city's records --------------------------------------------------------------------


def cloudevent(kind: str, event_id: str, agency: str, subject: str, when: datetime,
               data: dict[str, Any], source: str | None = None) -> bytes:  # fmt: skip
    return json.dumps(
        {"specversion": "1.0", "id": event_id, "source": source or f"/agencies/{agency}/bench",
         "type": kind, "subject": subject, "time": when.isoformat(),
         "datacontenttype": "application/json", "data": data, "agency": agency,
         "partitionkey": agency},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()  # fmt: skip


def registration(agency: str, when: datetime) -> Record:
    data = {"agency_id": agency, "name": f"市直单位{agency}", "committee_id": "bench-city"}
    value = cloudevent("mingdeng.agency.registered.v1", f"agency-{agency}", agency, agency, when,
                       data, source=REGISTRY_SOURCE)  # fmt: skip
    return agency.encode(), value


class City:
    def __init__(self, agencies: int, members: int, events: int) -> None:
        self.agencies = [f"a{n:03d}" for n in range(agencies)]
        self.members_each = members // agencies
        current = Quarter.of(datetime.now(UTC))
        probe = self.bureau("a000", Quarter(2000, 1), 1)
        registry = self.members_each * 5 + DEPARTMENTS + BRANCHES
        per_agency = events / agencies - registry
        self.quarters = max(1, math.ceil(per_agency / events_per_quarter(probe)))
        first = current
        for _ in range(self.quarters):
            first = first.previous()
        self.first_quarter = first
        self.held_quarter = current.previous()  # its closes are published during the load

    def bureau(self, agency: str, first: Quarter, quarters: int) -> Bureau:
        return Bureau(members=self.members_each, departments=DEPARTMENTS, branches=BRANCHES,
                      first_quarter=first, quarters=quarters, activity_per_member_quarter=20,
                      seed=11 + int(agency[1:]), agency=agency)  # fmt: skip

    def agency_history(self, agency: str) -> tuple[list[Record], Record | None]:
        """The agency's history, and its close of the held-back quarter apart."""
        kept, held = [], None
        for record in history(self.bureau(agency, self.first_quarter, self.quarters)):
            if record.is_close and str(self.held_quarter).encode() in record.value:
                held = (record.key, record.value)
            else:
                kept.append((record.key, record.value))
        return kept, held


def _agency_history(job: tuple[City, str]) -> tuple[list[Record], Record | None]:
    city, agency = job
    return city.agency_history(agency)


class Live:
    """Activity of now in the city's agencies (volunteering and household visits), ids unique."""

    def __init__(self, city: City) -> None:
        self.city, self.counter = city, 0

    def next(self, when: datetime) -> Record:
        self.counter += 1
        n = self.counter
        agency = self.city.agencies[n % len(self.city.agencies)]
        number = (n * 7919) % self.city.members_each
        member = f"m{number:05d}"
        data: dict[str, Any]
        if n % 4 == 0:
            data = {"visit_id": f"lv-{n}", "member_id": member, "kind": "household",
                    "household_id": f"h{number:05d}a"}  # fmt: skip
            kind = "mingdeng.visit.made.v1"
        else:
            data = {"activity_id": f"la-{n}", "member_id": member, "minutes": 60,
                    "title": "志愿服务"}  # fmt: skip
            kind = "mingdeng.volunteer.logged.v2"
        return agency.encode(), cloudevent(kind, f"live-{n}", agency, member, when, data)


async def produce(bootstrap: str, topic: str, records: Iterator[Record]) -> int:
    """Every record to `topic` by a batching producer (keyed; Kafka's partitioner, as the
    gateway's); returns how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=1 << 20)  # fmt: skip
    await producer.start()
    count = 0
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


# --- scoring workers -----------------------------------------------------------------------


def rss_mib(pid: int) -> float | None:
    """The resident set of a process; None once it has ended (a zombie has none)."""
    try:
        found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None


class Workers:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.env = {**rig.env, "MINGDENG_SCORING_PARTITIONED": "true"}
        self.running: list[tuple[Service, int]] = []
        self.peak_rss: dict[int, float] = {}
        self.sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.sampling:
            for number, (service, _) in enumerate(list(self.running)):
                process = service.process
                if process is not None and process.poll() is None:
                    rss = rss_mib(process.pid)
                    if rss is not None:
                        self.peak_rss[number] = max(self.peak_rss.get(number, 0.0), rss)
            time.sleep(0.5)

    def start(self, number: int) -> tuple[Service, int]:
        port = free_port()
        env = {**self.env, "MINGDENG_KAFKA_INSTANCE": f"city-{number}",
               "MINGDENG_SCORING_DATA_DIR": str(self.rig.work / f"city-scoring-{number}"),
               "MINGDENG_SCORING_WEB_PORT": str(port)}  # fmt: skip
        service = Service(["mingdeng-scoring", "run"], env,
                          self.rig.work / f"city-scoring-{number}.log")  # fmt: skip
        service.start(f"http://127.0.0.1:{port}/healthz", timeout_s=120)
        if number < len(self.running):
            self.running[number] = (service, port)
        else:
            self.running.append((service, port))
        return service, port

    def ready(self, number: int) -> bool:
        return answers(f"http://127.0.0.1:{self.running[number][1]}/readyz")

    def metrics(self, number: int) -> str:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.running[number][1]}/metrics", timeout=2).text
        except httpx.HTTPError as error:
            return repr(error)
        return " ".join(line for line in text.splitlines() if not line.startswith("#")
                        and ("lag" in line or "records_total" in line or "ready" in line))  # fmt: skip

    def tasks(self, number: int) -> int:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.running[number][1]}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0
        for line in text.splitlines():
            if line.startswith("mingdeng_scoring_tasks "):
                return int(float(line.split()[1]))
        return 0

    def rss(self) -> list[float]:
        return [round(rss_mib(s.process.pid) or 0) for s, _ in self.running if s.process]

    def stop_all(self) -> None:
        for service, _ in self.running:
            if service.process is not None and service.process.poll() is None:
                service.stop(120)
        self.running = []
        self.peak_rss = {}

    def kill_all(self) -> None:
        self.sampling = False
        for service, _ in self.running:
            service.kill_if_running()


async def group_committed(rig: Rig) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=rig.kafka.bootstrap_servers,
                                group_id=rig.kafka.group("mingdeng-scoring"),
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        topic = rig.kafka.topic(EVENTS)
        return {p: await consumer.committed(TopicPartition(topic, p)) or 0
                for p in range(EVENTS.partitions)}  # fmt: skip
    finally:
        await consumer.stop()


async def ends_of(rig: Rig, topic: Topic) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=rig.kafka.bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(rig.kafka.topic(topic), p) for p in range(topic.partitions)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def scoring_at(rig: Rig, ends: dict[int, int], limit_s: float) -> float:
    """Seconds until scoring's committed offsets reach `ends` on every partition (a
    transaction marker after a partition's last record may stand between: within 1)."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        committed = await group_committed(rig)
        if all((committed[p] >= end - 1 and committed[p] > 0) or end == 0
               for p, end in ends.items()):  # fmt: skip
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise TimeoutError(f"scoring did not reach {ends} in {limit_s} s")


async def catch_up(rig: Rig, workers: Workers, count: int, ends: dict[int, int]) -> dict[str, Any]:
    load_before = load_average()
    started = time.monotonic()
    for number in range(count):
        workers.start(number)
    await scoring_at(rig, ends, 7200)
    elapsed = time.monotonic() - started
    total = sum(ends.values())
    wait_for(lambda: all(workers.tasks(n) > 0 for n in range(count)), 60, "tasks")
    return {
        "workers": count,
        "seconds": round(elapsed, 1),
        "events_per_s": round(total / elapsed),
        "rss_mib_at_end": workers.rss(),
        "peak_rss_mib": [
            round(max(workers.peak_rss.get(n, 0), now)) for n, now in enumerate(workers.rss())
        ],
        "tasks": [workers.tasks(n) for n in range(count)],
        "load_average_1m": [load_before, load_average()],
    }


def restart_to_ready(workers: Workers, count: int, limit_s: float) -> float | None:
    """Stop every worker (TERM), start `count` of them together once the group has expired
    their static members (`SESSION_GONE_S`): seconds from the start until every one answers
    /readyz; None when not within `limit_s` (the log names what they saw)."""
    workers.stop_all()
    time.sleep(SESSION_GONE_S)
    started = time.monotonic()
    for number in range(count):
        workers.start(number)
    if all(until_ready(workers, n, limit_s - (time.monotonic() - started)) for n in range(count)):
        return round(time.monotonic() - started, 2)
    for number in range(count):
        log(f"worker {number} of {count} not ready {limit_s} s after the restart:"
            f" {workers.metrics(number)}")  # fmt: skip
    return None


def until_ready(workers: Workers, number: int, limit_s: float) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if workers.ready(number):
            return True
        time.sleep(0.2)
    return False


async def checkpoint_bytes(rig: Rig) -> dict[str, int]:
    """The size of each task's newest checkpoint on the changelog topic (its chunks)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=rig.kafka.bootstrap_servers,
                                enable_auto_commit=False, isolation_level="read_committed")  # fmt: skip
    await consumer.start()
    newest: dict[bytes, bytes | None] = {}
    try:
        topic = rig.kafka.topic(SCORING_CHECKPOINTS)
        tps = [TopicPartition(topic, p) for p in range(SCORING_CHECKPOINTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                newest.update((r.key or b"", r.value) for r in records)
    finally:
        await consumer.stop()
    sizes: dict[str, int] = {}
    for key, value in newest.items():
        if b"/" in key or value is None:
            continue
        checkpoint = json.loads(value)["id"]
        sizes[key.decode()] = sum(len(newest.get(f"{key.decode()}/{checkpoint}/{n}".encode())
                                      or b"") for n in range(json.loads(value)["chunks"]))  # fmt: skip
    return sizes


async def forget_scoring(rig: Rig, env: dict[str, str]) -> None:
    """`mingdeng-scoring rebuild`: the tasks' checkpoints tombstoned and the group forgotten, so
    that the next workers start from nothing."""
    done = await asyncio.to_thread(
        subprocess.run,
        [str(ROOT / ".venv/bin/mingdeng-scoring"), "rebuild"],
        env={**os.environ, **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"mingdeng-scoring rebuild: {done.stdout}{done.stderr}")
    if any((await group_committed(rig)).values()):
        raise AssertionError("scoring's offsets were not reset")


# --- the other consumers -------------------------------------------------------------------


def start_consumers(rig: Rig) -> None:
    for name, command in (("outreach", "run"), ("notify", "run"), ("gateway", "serve")):
        service = Service([f"mingdeng-{name}", command], rig.env, rig.work / f"city-{name}.log")
        service.start(f"http://127.0.0.1:{rig.ports[name]}/healthz", timeout_s=180)
        rig.services[name] = service


async def consumers_at(rig: Rig, end: int, names: tuple[str, ...], limit_s: float,
                       started: float) -> dict[str, float]:  # fmt: skip
    """Seconds from `started` until each named consumer's position reached `end` (the sum
    over the inbound partitions; transaction markers: within one a partition)."""
    reached: dict[str, float] = {}
    while len(reached) < len(names) and time.monotonic() - started < limit_s:
        positions = await rig.positions()
        for name in names:
            if name not in reached and positions[name] >= end - EVENTS.partitions:
                reached[name] = time.monotonic() - started
        await asyncio.sleep(0.5)
    return reached


async def projector_at(rig: Rig, topic: str, end: int, started: float, limit_s: float) -> float:
    """Seconds from `started` until the projector's stored offsets on `topic` sum to `end`."""
    connection = await asyncpg.connect(rig.database)
    try:
        while time.monotonic() - started < limit_s:
            taken = await connection.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM public.consumer_offsets"
                " WHERE topic = $1 AND consumer = $2",
                topic, rig.kafka.group(PROJECTOR_GROUP),
            )  # fmt: skip
            if int(taken) >= end - 4:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    raise TimeoutError(f"the projector did not reach {end} on {topic}")


async def burst(rig: Rig, live: Live, size: int) -> dict[str, Any]:
    when = datetime.now(BUSINESS_TZ) - timedelta(hours=1)
    records = [live.next(when + timedelta(milliseconds=n)) for n in range(size)]
    before = sum((await ends_of(rig, EVENTS)).values())
    scores_topic = rig.kafka.topic(SCORES)
    started = time.monotonic()
    await produce(rig.kafka.bootstrap_servers, rig.kafka.topic(EVENTS), iter(records))
    produced_s = time.monotonic() - started
    names = ("scoring", "notify", "outreach", "projector")
    reached = await consumers_at(rig, before + size, names, 3600, started)
    scores_end = sum((await ends_of(rig, SCORES)).values())
    end_to_end_s = await projector_at(rig, scores_topic, scores_end, started, 3600)
    end_to_end_s = max(end_to_end_s, *reached.values())
    return {
        "events": size,
        "producer_events_per_s": round(size / produced_s),
        "seconds": {name: round(s, 1) for name, s in reached.items()},
        **{f"{name}_events_per_s": round(size / reached[name]) for name in reached},
        "end_to_end_seconds": round(end_to_end_s, 1),
        "end_to_end_events_per_s": round(size / end_to_end_s),
        "load_average_1m": load_average(),
    }


# --- under a steady load -------------------------------------------------------------------


async def steady(rig: Rig, live: Live, rate: int, seconds: float, extra: asyncio.Queue[Record],
                 sent: dict[bytes, float]) -> float:  # fmt: skip
    """Offer `rate` events/s of live activity for `seconds`, with what `extra` holds sent
    first (`sent` gets the moment each extra was handed to the producer); returns the rate
    achieved."""
    producer = AIOKafkaProducer(bootstrap_servers=rig.kafka.bootstrap_servers, acks="all",
                                linger_ms=0)  # fmt: skip
    await producer.start()
    topic = rig.kafka.topic(EVENTS)
    total = int(rate * seconds)
    base = datetime.now(BUSINESS_TZ).replace(microsecond=0) - timedelta(minutes=30)
    started = time.monotonic()
    try:
        for n in range(total):
            if not extra.empty():
                key, value = extra.get_nowait()
                sent[value] = time.monotonic()
            else:
                key, value = live.next(base + timedelta(milliseconds=n))
            await producer.send(topic, value, key=key)
            delay = started + (n + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()
    return total / (time.monotonic() - started)


async def freshness_and_closes(rig: Rig, city: City, live: Live, closes: dict[str, Record],
                               seconds: float, with_stream: bool) -> dict[str, Any]:  # fmt: skip
    """At 1,000 events/s: the held-back `closes`, one at a time -> the agency's final
    selection of that quarter; `with_stream`, a new member of the first agency every 60th
    event -> its score change on that agency's /v1/stream."""
    agency = city.agencies[0]
    token = issue_token(SECRET, Principal("bench", "admin", None, agency=agency),
                        timedelta(hours=2))  # fmt: skip
    extra: asyncio.Queue[Record] = asyncio.Queue()
    sent: dict[bytes, float] = {}
    stream_seen: dict[str, float] = {}
    final_seen: dict[str, float] = {}
    listening = asyncio.Event()
    quarter = str(city.held_quarter)

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", f"{rig.api}/v1/stream",
                          headers={"Authorization": f"Bearer {token}"}) as response,
        ):  # fmt: skip
            listening.set()
            async for line in response.aiter_lines():
                if line.startswith("data: ") and '"probe-' in line:
                    member = json.loads(line[6:]).get("id", "")
                    stream_seen.setdefault(member, time.monotonic())

    async def watch_finals() -> None:
        consumer = AIOKafkaConsumer(rig.kafka.topic(SELECTIONS),
                                    bootstrap_servers=rig.kafka.bootstrap_servers,
                                    isolation_level="read_committed", auto_offset_reset="latest",
                                    fetch_max_wait_ms=20)  # fmt: skip
        await consumer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        key = (record.key or b"").decode()
                        if key.endswith(f"/{quarter}") and re.search(
                            rb'"status":\s*"final"', record.value or b""
                        ):
                            final_seen.setdefault(key.split("/", 1)[0], time.monotonic())
        finally:
            await consumer.stop()

    async def feed() -> None:
        """The probes every 60 ms (the 60th event at 1,000/s), a close every `gap` seconds."""
        closing = sorted(closes)
        gap = max(2.0, seconds / (len(closing) + 1))
        next_close, n = time.monotonic() + gap, 0
        deadline = time.monotonic() + seconds
        when = datetime.now(BUSINESS_TZ).replace(microsecond=0) - timedelta(minutes=20)
        while time.monotonic() < deadline:
            n += 1
            if closing and time.monotonic() >= next_close:
                closer = closing.pop(0)
                extra.put_nowait(closes[closer])
                closers[closes[closer][1]] = closer
                next_close += gap
            await asyncio.sleep(0.06)
            if not with_stream:
                continue
            member = f"probe-{n:05d}"
            value = cloudevent("mingdeng.member.registered.v1", f"pr-{member}", agency, member,
                               when, {"member_id": member, "name": "探针", "department_id": "d000",
                                      "roles": ["member"], "party_member": True})  # fmt: skip
            extra.put_nowait((agency.encode(), value))
            probes[value] = member

    probes: dict[bytes, str] = {}
    closers: dict[bytes, str] = {}
    tasks = []
    if with_stream:
        tasks.append(asyncio.create_task(listen()))
        await asyncio.wait_for(listening.wait(), 30)
    tasks.append(asyncio.create_task(watch_finals()))
    await asyncio.sleep(1)
    tasks.append(asyncio.create_task(feed()))
    achieved = await steady(rig, live, FRESHNESS_RATE, seconds, extra, sent)
    await asyncio.sleep(15)  # the last probes and closes come through
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stream = [(stream_seen[m] - sent[v]) * 1000 for v, m in probes.items()
              if v in sent and m in stream_seen]  # fmt: skip
    close_s = {a: round(final_seen[a] - sent[v], 2) for v, a in closers.items()
               if v in sent and a in final_seen}  # fmt: skip
    return {
        "offered_per_s": FRESHNESS_RATE,
        "achieved_per_s": round(achieved),
        **(
            {"stream": {**percentiles(stream), "sent": sum(1 for v in probes if v in sent)}}
            if with_stream
            else {}
        ),
        "closes": close_s,
        "closes_sent": sum(1 for v in closers if v in sent),
        "load_average_1m": load_average(),
    }


async def failover(rig: Rig, workers: Workers, live: Live, trials: int) -> dict[str, Any]:
    seconds: list[float] = []
    loads: list[float] = []
    for number in range(trials):
        for n in range(2):
            if workers.running[n][0].process.poll() is not None:  # type: ignore[union-attr]
                workers.start(n)
        wait_for(lambda: workers.tasks(0) == workers.tasks(1) == 2, 120, "two tasks each")
        load = asyncio.create_task(steady(rig, live, FAILOVER_RATE, 25, asyncio.Queue(), {}))
        await asyncio.sleep(3 + number % 3)
        victim = number % 2
        ends = await ends_of(rig, EVENTS)
        killed = time.monotonic()
        os.killpg(workers.running[victim][0].process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        await scoring_at(rig, ends, 180)
        seconds.append(round(time.monotonic() - killed, 2))
        loads.append(load_average())
        log(f"failover trial {number}: applied {seconds[-1]} s after the kill")
        await load
        workers.running[victim][0].process.wait(10)  # type: ignore[union-attr]
    ordered = sorted(seconds)
    return {
        "trials": len(seconds),
        "offered_per_s": FAILOVER_RATE,
        "p50_s": round(statistics.median(ordered), 2),
        "p99_s": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "seconds": seconds,
        "load_average_1m": loads,
    }


# --- the run -------------------------------------------------------------------------------


async def run(args: argparse.Namespace, out: dict[str, Any], save: Any) -> None:
    city = City(args.agencies, args.members, args.events)
    rig = Rig(args.members, ROOT / ".run" / "bench-city")
    rig.work = rig.work / rig.kafka.topic_prefix.rstrip(".")  # the logs and state of this run
    rig.work.mkdir(parents=True, exist_ok=True)
    await rig.create()
    homes = Counter(home_partition(a, EVENTS.partitions) for a in city.agencies)
    out["city"] = {"agencies": len(city.agencies), "members_per_agency": city.members_each,
                   "quarters": city.quarters, "first_quarter": str(city.first_quarter),
                   "held_back_close": str(city.held_quarter), "partitions": EVENTS.partitions,
                   "agencies_per_partition": dict(sorted(homes.items())),
                   "topic_prefix": rig.kafka.topic_prefix}  # fmt: skip
    log(f"city: {out['city']}")
    topic = rig.kafka.topic(EVENTS)
    closes: dict[str, Record] = {}
    started = time.monotonic()
    when = datetime.now(UTC) - timedelta(days=(city.quarters + 1) * 92)

    def records() -> Iterator[Record]:
        for agency in city.agencies:
            yield registration(agency, when)
        with multiprocessing.get_context("spawn").Pool(args.generators) as pool:
            jobs = ((city, a) for a in city.agencies)
            for agency, (kept, held) in zip(city.agencies, pool.imap(_agency_history, jobs),
                                            strict=True):  # fmt: skip
                if held is not None:
                    closes[agency] = held
                yield from kept

    produced = await produce(rig.kafka.bootstrap_servers, topic, records())
    produce_s = time.monotonic() - started
    ends = await ends_of(rig, EVENTS)
    out["city_members"] = city.members_each * len(city.agencies)
    out["city_history_events"] = sum(ends.values())
    out["history"] = {"produced": produced, "seconds": round(produce_s, 1),
                      "generate_and_produce_events_per_s": round(produced / produce_s),
                      "per_partition": ends, "load_average_1m": load_average()}  # fmt: skip
    log(f"history: {out['history']}")
    save()

    out["city_limit_consumer_events_per_s"] = round(await bare_consumer(rig.kafka))
    log(f"bare consumer: {out['city_limit_consumer_events_per_s']} events/s")
    save()

    workers = Workers(rig)
    live = Live(city)
    try:
        one = await catch_up(rig, workers, 1, ends)
        log(f"1 worker: {one}")
        out["catch_up_1_worker"] = one
        out["city_ingest_events_per_s_1_worker"] = one["events_per_s"]
        save()
        one["checkpoint_bytes"] = await checkpoint_bytes(rig)
        log(f"checkpoints: {one['checkpoint_bytes']}")
        workers.stop_all()
        save()

        await forget_scoring(rig, workers.env)
        two = await catch_up(rig, workers, 2, ends)
        log(f"2 workers: {two}")
        out["catch_up_2_workers"] = two
        out["city_ingest_events_per_s_2_workers"] = two["events_per_s"]
        save()
        wait_for(lambda: workers.tasks(0) == workers.tasks(1) == 2, 120, "two tasks each")
        save()

        out["city_worker_rss_mib"] = max([*one["peak_rss_mib"], *two["peak_rss_mib"]])
        save()

        async def closes_alone() -> None:
            result = await freshness_and_closes(rig, city, live, alone, args.freshness_seconds,
                                                with_stream=False)  # fmt: skip
            out["closes_scoring_alone_at_1000"] = result
            log(f"closes, scoring alone: {result}")

        async def failover_trials() -> None:
            out["failover"] = await failover(rig, workers, live, args.failover_trials)
            out["city_failover_p99_s"] = out["failover"]["p99_s"]
            out["city_failover_trials"] = out["failover"]["trials"]

        async def every_consumer() -> None:
            consumers_started = time.monotonic()
            start_consumers(rig)
            end = sum((await ends_of(rig, EVENTS)).values())
            reached = await consumers_at(rig, end, ("notify", "outreach", "projector"), 7200,
                                         consumers_started)  # fmt: skip
            out["history_catch_up_s"] = {n: round(s, 1) for n, s in reached.items()}
            out["history_catch_up_events_per_s"] = {n: round(end / s) for n, s in reached.items()}
            log(f"history read by the others: {out['history_catch_up_s']}")
            save()
            out["burst"] = await burst(rig, live, args.burst)
            log(f"burst: {out['burst']}")
            for name in ("outreach", "notify"):
                if f"{name}_events_per_s" in out["burst"]:
                    out[f"{name}_events_per_s"] = out["burst"][f"{name}_events_per_s"]
            if "projector_events_per_s" in out["burst"]:
                out["projector_events_per_s_city"] = out["burst"]["projector_events_per_s"]
            out["city_end_to_end_events_per_s"] = out["burst"]["end_to_end_events_per_s"]
            save()
            fresh = await freshness_and_closes(rig, city, live, with_all, args.freshness_seconds,
                                               with_stream=True)  # fmt: skip
            out["freshness_at_1000"] = fresh
            log(f"freshness: {fresh}")
            if fresh["stream"]["p99_ms"] is not None:
                out["city_freshness_p99_ms_at_1000"] = fresh["stream"]["p99_ms"]

        async def restarts() -> None:
            """Last: a restart that never gets ready (issue 26's report) spoils no other."""
            peaks = [round(v) for v in workers.peak_rss.values()]  # under the load before
            out["city_worker_rss_mib"] = max([out["city_worker_rss_mib"], *peaks])
            ready = {}
            for count in (2, 1):
                ready[count] = restart_to_ready(workers, count, args.restart_limit_s)
                log(f"{count} worker(s) restarted: ready after {ready[count]} s")
            out["restart_to_ready_s"] = {f"{n}_workers": s for n, s in ready.items()}
            if all(ready.values()):  # a restart never ready is no figure (its log says so)
                out["city_restart_to_ready_s"] = max(s for s in ready.values() if s)

        held = sorted(closes)
        alone = {a: closes[a] for a in held[: args.closes // 2]}
        with_all = {a: closes[a] for a in held[args.closes // 2 : args.closes]}
        stages = [closes_alone, every_consumer, restarts]
        if args.failover_trials:
            stages.insert(1, failover_trials)
        for stage in stages:
            try:
                await stage()
            except Exception as error:  # the next stages are still measured; the error is kept
                log(f"stage {stage.__name__} failed: {error!r}")
                traceback.print_exc()
                out.setdefault("errors", {})[stage.__name__] = repr(error)
            save()
        close_s = [*out.get("closes_scoring_alone_at_1000", {}).get("closes", {}).values(),
                   *out.get("freshness_at_1000", {}).get("closes", {}).values()]  # fmt: skip
        if close_s:
            out["city_close_to_final_s"] = max(close_s)
        peaks = [out["city_worker_rss_mib"], *(round(v) for v in workers.peak_rss.values())]
        out["city_worker_rss_mib"] = max(peaks)
        out["worker_rss_mib_now"] = workers.rss()
        save()
    finally:
        workers.kill_all()
        rig.stop()


CITY_KEYS = (
    "city_members", "city_history_events", "city_ingest_events_per_s_1_worker",
    "city_ingest_events_per_s_2_workers", "city_limit_consumer_events_per_s",
    "city_freshness_p99_ms_at_1000", "city_close_to_final_s", "city_worker_rss_mib",
    "city_restart_to_ready_s", "city_failover_p99_s", "city_failover_trials",
    "city_end_to_end_events_per_s", "projector_events_per_s_city",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agencies", type=int, default=200)
    parser.add_argument("--members", type=int, default=30_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--burst", type=int, default=200_000)
    parser.add_argument("--freshness-seconds", type=float, default=40)
    parser.add_argument("--closes", type=int, default=10)
    parser.add_argument("--failover-trials", type=int, default=10)
    parser.add_argument("--restart-limit-s", type=float, default=180)
    parser.add_argument("--generators", type=int, default=2, help="processes generating history")
    parser.add_argument("--name", default="city", help="results file: NAME-latest.json")
    args = parser.parse_args()
    out: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                           "machine": machine(), "arguments": vars(args)}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).date().isoformat()

    def save() -> None:
        """Every figure as soon as it is measured: a run cut short keeps what it measured."""
        text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
        for name in (f"{args.name}-{day}.json", f"{args.name}-latest.json"):
            (RESULTS / name).write_text(text)

    save()
    # a TERM ends the run through its `finally`: the workers and services it started go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by TERM"))
    asyncio.run(run(args, out, save))
    out["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    save()
    if args.name == "city":  # the newest results of `make bench` carry the city's figures
        pipeline = RESULTS / "pipeline-latest.json"
        merged = json.loads(pipeline.read_text()) if pipeline.exists() else {}
        merged.update({k: out[k] for k in CITY_KEYS if k in out})
        merged.update(
            {
                f"{k}_city": out[k]
                for k in ("outreach_events_per_s", "notify_events_per_s")
                if k in out
            }
        )
        merged["city_run"] = out["date"]
        pipeline.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k.startswith("city_") or
                      k.endswith("_events_per_s")}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
