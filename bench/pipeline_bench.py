"""Every consumer on the same burst, with every service running (issue 21).

For each size of bureau (the demo's 130 members over two years, and 20,000 members over one
quarter): the four services run as processes on topics and a database of their own; the
history is published and read by all of them; then
- a burst of activity (household visits and volunteering) is published as fast as the producer
  goes, and each consumer's events/s is taken from the first publish until its position reaches
  the end of the log (scoring: its committed offsets; notify, outreach and the gateway's
  projector: their offsets stored with their rows), beside a bare aiokafka consumer reading the
  same records in the same run;
- freshness at 100, 500 and 1,000 events/s offered: publish on Kafka → the change on the API's
  stream (`/v1/stream`, a new member as the probe); publish a household visit → the member's
  households view in the gateway (outreach → projector); publish a violation → its reminder SMS
  in the notifier's sink. p50 and p99, with the machine's load average beside them.

    set -a; source .run/test/mingdeng.env; set +a
    uv run --frozen python bench/pipeline_bench.py [--sizes 130 20000] [--burst 100000]

Writes bench/results/pipeline-<date>.json (and pipeline-latest.json) with the keys issue 21
names. `make bench` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scoring_bench import bare_consumer, machine, publish  # noqa: E402

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter  # noqa: E402
from mingdeng.contracts.topics import EVENTS, SCORES  # noqa: E402
from mingdeng.gateway.adapters.projector import PROJECTOR_GROUP  # noqa: E402
from mingdeng.gateway.adapters.tokens import issue_token  # noqa: E402
from mingdeng.gateway.domain.access import Principal  # noqa: E402
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from tests.support.history import SOURCE, Bureau, HistoryRecord, history  # noqa: E402
from tests.support.processes import Service, answers, free_port, wait_for  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SECRET = "bench-secret-0123456789abcdef0123456789"
RATES = (100, 500, 1000)
SECONDS_PER_RATE = 20
CONSUMERS = {
    "scoring": "mingdeng-scoring",
    "notify": "mingdeng-notify",
    "outreach": "mingdeng-outreach",
    "projector": PROJECTOR_GROUP,
}
TARGETS = {
    "coverage_freshness_p99_ms_at_500": 2000,
    "violation_sms_p99_ms_at_500": 2000,
    "freshness_p99_ms_at_1000_all_services": 500,
}


def bureau(members: int) -> Bureau:
    small = members < 1000
    return Bureau(
        members=members,
        departments=max(12, members // 50),
        branches=max(5, members // 1000),
        first_quarter=Quarter(2024, 1) if small else Quarter.of(datetime.now(UTC)),
        quarters=8 if small else 1,
        activity_per_member_quarter=20 if small else 2,
        close_quarters=small,
    )


def event(kind: str, event_id: str, subject: str, when: datetime, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0", "id": event_id, "source": SOURCE, "type": kind,
            "subject": subject, "time": when.isoformat(), "datacontenttype": "application/json",
            "data": data,
        },
        ensure_ascii=False,
    ).encode()  # fmt: skip


@dataclass
class Activity:
    """Activity of now in the bureau: household visits to paired households and volunteering,
    with ids that never repeat."""

    members: int
    counter: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(5))

    def member(self) -> tuple[str, int]:
        n = self.rng.randrange(self.members)
        return f"m{n:05d}", n

    def next(self, when: datetime) -> HistoryRecord:
        self.counter += 1
        member, n = self.member()
        if self.counter % 4 == 0:
            household = f"h{n:05d}{'ab'[self.counter % 2]}"
            data = {"visit_id": f"pv-{self.counter}", "member_id": member, "kind": "household",
                    "household_id": household}  # fmt: skip
            kind = "mingdeng.visit.made.v1"
        else:
            data = {"activity_id": f"pa-{self.counter}", "member_id": member, "minutes": 60,
                    "title": "志愿服务"}  # fmt: skip
            kind = "mingdeng.volunteer.logged.v2"
        return HistoryRecord(member.encode(), event(kind, f"pb-{self.counter}", member, when, data))


class Rig:
    def __init__(self, members: int, work: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        base = os.environ["MINGDENG_DATABASE_URL"]
        self.admin_url, self.database = base, base.rsplit("/", 1)[0] + f"/bench_pipe_{tag}"
        self.kafka = KafkaSettings(
            bootstrap_servers=os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"],
            topic_prefix=f"bench-pipe-{tag}.",
        )
        self.members, self.work = members, work
        self.sink = work / f"sms-{tag}.jsonl"
        ports = {name: free_port() for name in ("gateway", "scoring", "notify", "outreach")}
        self.env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "MINGDENG_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "MINGDENG_DATABASE_URL": self.database,
            "MINGDENG_GATEWAY_ENVIRONMENT": "test",
            "MINGDENG_GATEWAY_JWT_SECRET": SECRET,
            "MINGDENG_GATEWAY_PORT": str(ports["gateway"]),
            "MINGDENG_SCORING_WEB_PORT": str(ports["scoring"]),
            "MINGDENG_SCORING_DATA_DIR": str(work / f"scoring-{tag}"),
            "MINGDENG_NOTIFY_HEALTH_PORT": str(ports["notify"]),
            "MINGDENG_OUTREACH_HEALTH_PORT": str(ports["outreach"]),
            "MINGDENG_NOTIFY_SINK_FILE": str(self.sink),
            "MINGDENG_NOTIFY_QUIET_HOURS": "",
            "MINGDENG_NOTIFY_PER_MINUTE": "100000",
            "MINGDENG_NOTIFY_PER_HOUR": "100000",
            "MINGDENG_NOTIFY_PER_DAY": "100000",
        }
        self.ports = ports
        self.services: dict[str, Service] = {}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    async def create(self) -> None:
        connection = await asyncpg.connect(self.admin_url)
        await connection.execute(f'CREATE DATABASE "{self.database.rsplit("/", 1)[1]}"')
        await connection.close()
        ensure_topics(self.kafka)
        for name in ("gateway", "notify", "outreach"):
            done = subprocess.run(
                [str(ROOT / f".venv/bin/mingdeng-{name}"), "prestart"],
                env={**os.environ, **self.env}, capture_output=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr.decode()[-2000:]

    def start(self) -> None:
        for name, command in (
            ("scoring", "run"), ("outreach", "run"), ("notify", "run"), ("gateway", "serve"),
        ):  # fmt: skip
            service = Service([f"mingdeng-{name}", command], self.env, self.work / f"{name}.log")
            service.start(f"http://127.0.0.1:{self.ports[name]}/healthz", timeout_s=120)
            self.services[name] = service

    def stop(self) -> None:
        for service in self.services.values():
            service.kill_if_running()

    async def positions(self) -> dict[str, int]:
        """Records each consumer has taken from the inbound log (all partitions)."""
        topic = self.kafka.topic(EVENTS)
        connection = await asyncpg.connect(self.database)
        try:
            rows = await connection.fetch(
                """SELECT consumer, coalesce(sum(next_offset), 0) AS taken FROM public.consumer_offsets
                   WHERE topic = $1 GROUP BY consumer""",
                topic,
            )
        finally:
            await connection.close()
        taken = {r["consumer"]: int(r["taken"]) for r in rows}
        found = {name: taken.get(self.kafka.group(group), 0) for name, group in CONSUMERS.items()}
        partitions = [TopicPartition(topic, p) for p in range(EVENTS.partitions)]
        found["scoring"] = await self.scoring_position(partitions)
        return found

    async def scoring_position(self, tps: list[TopicPartition]) -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=self.kafka.group(CONSUMERS["scoring"]),
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            total = 0
            for tp in tps:
                total += await consumer.committed(tp) or 0
            return total
        finally:
            await consumer.stop()

    async def log_end(self) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers)
        await consumer.start()
        try:
            tps = [TopicPartition(self.kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
            return sum((await consumer.end_offsets(tps)).values())
        finally:
            await consumer.stop()

    async def everyone_at(self, end: int, limit_s: float) -> dict[str, float]:
        """Seconds until each consumer's position reached `end` (a transaction marker at the
        end of a partition is not a record: within 4, one per partition)."""
        started, reached = time.monotonic(), {}
        while len(reached) < len(CONSUMERS) and time.monotonic() - started < limit_s:
            for name, position in (await self.positions()).items():
                if name not in reached and position >= end - EVENTS.partitions:
                    reached[name] = time.monotonic() - started
            await asyncio.sleep(0.2)
        return reached


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def named_processes(rig: Rig) -> dict[str, list[int]]:
    """The four services, and this run's broker and database server (every process of it)."""
    found = {name: [s.process.pid] for name, s in rig.services.items() if s.process}
    port = rig.database.rsplit(":", 1)[1].split("/", 1)[0]
    kafka_config = f"{os.environ['MINGDENG_RUN_DIR']}/kafka/server.properties".encode()
    found["kafka"], found["postgres"] = [], []
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except OSError:
            continue
        if b"kafka.Kafka" in command and kafka_config in command:
            found["kafka"].append(int(entry.name))
        if b"bin/postgres " in command and f"-p {port} ".encode() in command:
            found["postgres"].append(int(entry.name))
    if found["postgres"]:  # its backends and workers are children of the server
        server = found["postgres"][0]
        found["postgres"] += [pid for pid, parent in parents.items() if parent == server]
    return found


def cpu_by_process(rig: Rig) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process by name and pid (the database's: its processes now)."""
    taken: dict[str, dict[int, float]] = {}
    for name, pids in named_processes(rig).items():
        taken[name] = {}
        for pid in pids:
            try:
                taken[name][pid] = cpu_seconds(pid)
            except OSError:
                continue  # a database backend that ended meanwhile
    return taken


def cpu_between(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds by name between two readings: each process's difference, all of one that
    started in between; a database backend that ended in between is left out (the services'
    pools keep theirs), never counted against the others."""
    return {
        name: sum(seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in pids.items())
        for name, pids in after.items()
    }


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "samples": 0}
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered)),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]),
        "samples": len(ordered),
    }


async def freshness(rig: Rig, activity: Activity, rate: int, seconds: int) -> dict[str, Any]:
    """Offer `rate` events/s for `seconds`; every 20th a probe of each kind in turn."""
    token = issue_token(SECRET, Principal("bench", "admin", None), timedelta(hours=2))
    stream_sent: dict[str, float] = {}
    stream_seen: dict[str, float] = {}
    scored_seen: dict[str, float] = {}  # the probe's score record committed by scoring
    visit_sent: dict[tuple[str, str, str], float] = {}  # member, household, time -> sent
    visit_seen: dict[tuple[str, str, str], float] = {}
    sms_sent: dict[str, float] = {}
    sms_seen: dict[str, float] = {}
    listening, listening_scores = asyncio.Event(), asyncio.Event()
    done = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream(
                "GET", f"{rig.api}/v1/stream", headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            listening.set()
            async for line in response.aiter_lines():
                if line.startswith("data: ") and '"probe-' in line:
                    member = json.loads(line[6:]).get("id", "")
                    if member in stream_sent and member not in stream_seen:
                        stream_seen[member] = time.monotonic()

    async def watch_scores() -> None:
        consumer = AIOKafkaConsumer(
            rig.kafka.topic(SCORES),
            bootstrap_servers=rig.kafka.bootstrap_servers,
            isolation_level="read_committed",
            auto_offset_reset="latest",
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            await consumer.getmany(timeout_ms=200)
            listening_scores.set()
            while not done.is_set() or len(scored_seen) < len(stream_sent):
                batches = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                for records in batches.values():
                    for record in records:
                        member = (record.key or b"").decode(errors="replace").rsplit("/", 1)[-1]
                        if member in stream_sent and member not in scored_seen:
                            scored_seen[member] = now
                if done.is_set() and time.monotonic() - ended > 30:
                    return
        finally:
            await consumer.stop()

    async def watch_visits() -> None:
        connection = await asyncpg.connect(rig.database)
        try:
            while not done.is_set() or len(visit_seen) < len(visit_sent):
                pending = [k for k in visit_sent if k not in visit_seen]
                if pending:
                    rows = await connection.fetch(
                        "SELECT key, body FROM gateway.outreach_views WHERE key = ANY($1)",
                        [f"households/{m}" for m, _, _ in pending],
                    )
                    bodies = {r["key"]: json.loads(r["body"]) for r in rows}
                    now = time.monotonic()
                    for member, household, at in pending:
                        body = bodies.get(f"households/{member}") or {}
                        for paired in body.get("households", []):
                            last = paired.get("last_visit_at")
                            if (
                                paired.get("household_id") == household
                                and last
                                and (datetime.fromisoformat(last) >= datetime.fromisoformat(at))
                            ):
                                visit_seen[(member, household, at)] = now
                if done.is_set() and time.monotonic() - ended > 30:
                    return
                await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def watch_sms() -> None:
        offset = rig.sink.stat().st_size if rig.sink.exists() else 0
        while not done.is_set() or len(sms_seen) < len(sms_sent):
            if rig.sink.exists():
                with rig.sink.open("rb") as sink:
                    sink.seek(offset)
                    chunk = sink.read()
                    offset += len(chunk)
                now = time.monotonic()
                for cause in sms_sent:
                    if cause not in sms_seen and cause.encode() in chunk:
                        sms_seen[cause] = now
            if done.is_set() and time.monotonic() - ended > 30:
                return
            await asyncio.sleep(0.05)

    ended = 0.0
    tasks = [asyncio.create_task(listen())]
    await asyncio.wait_for(listening.wait(), 10)
    tasks += [asyncio.create_task(watch_scores())]
    await asyncio.wait_for(listening_scores.wait(), 10)
    tasks += [asyncio.create_task(watch_visits()), asyncio.create_task(watch_sms())]
    producer = AIOKafkaProducer(
        bootstrap_servers=rig.kafka.bootstrap_servers, acks="all", linger_ms=0
    )
    await producer.start()
    topic = rig.kafka.topic(EVENTS)
    cpu_before = cpu_by_process(rig)
    started = time.monotonic()
    base = datetime.now(BUSINESS_TZ).replace(microsecond=0) - timedelta(minutes=30)
    try:
        for n in range(rate * seconds):
            when = base + timedelta(milliseconds=n)
            probe = n % 60
            if probe == 0:
                member = f"probe-{activity.counter}-{n}"
                value = event("mingdeng.member.registered.v1", f"pr-{member}", member, when, {
                    "member_id": member, "name": "探针", "department_id": "d000",
                    "roles": ["member"], "party_member": True})  # fmt: skip
                key, mark = member.encode(), ("stream", member)
            elif probe == 20:
                member, number = activity.member()
                household = f"h{number:05d}a"
                value = event("mingdeng.visit.made.v1", f"pv-{member}-{n}", member, when, {
                    "visit_id": f"probe-visit-{activity.counter}-{n}", "member_id": member,
                    "kind": "household", "household_id": household})  # fmt: skip
                key, mark = member.encode(), ("visit", (member, household, when.isoformat()))
            elif probe == 40:
                member, _ = activity.member()
                violation = f"probe-v-{activity.counter}-{n}"
                value = event("mingdeng.violation.logged.v1", violation, member, when, {
                    "violation_id": violation, "member_id": member, "rule": 2,
                    "description": "上班时间离岗未报备", "inspector_id": "i1"})  # fmt: skip
                key, mark = member.encode(), ("sms", violation)
            else:
                record = activity.next(when)
                key, value, mark = record.key, record.value, None
            await producer.send(topic, value, key=key)
            now = time.monotonic()
            if mark is not None:
                kind, what = mark
                if kind == "stream":
                    stream_sent[what] = now  # type: ignore[index]
                elif kind == "visit":
                    visit_sent[what] = now  # type: ignore[index]
                else:
                    sms_sent[what] = now  # type: ignore[index]
            delay = started + (n + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()
    ended = time.monotonic()
    done.set()
    await asyncio.sleep(0)
    await asyncio.wait(tasks[1:], timeout=40)
    tasks[0].cancel()
    load = os.getloadavg()[0]
    cpu_after = cpu_by_process(rig)
    offered = rate * seconds

    def lags(sent: dict[Any, float], seen: dict[Any, float]) -> list[float]:
        return [(seen[k] - sent[k]) * 1000 for k in sent if k in seen]

    return {
        "offered_per_s": rate,
        "achieved_per_s": round(rate * seconds / (ended - started)),
        "stream": {**percentiles(lags(stream_sent, stream_seen)), "sent": len(stream_sent)},
        # the stream's first stage alone: publish -> the score record committed by scoring
        "scored": percentiles(lags(stream_sent, scored_seen)),
        "coverage": {**percentiles(lags(visit_sent, visit_seen)), "sent": len(visit_sent)},
        "violation_sms": {**percentiles(lags(sms_sent, sms_seen)), "sent": len(sms_sent)},
        "load_average_1m": round(load, 1),
        # CPU each process took per 1,000 events offered (independent of what else runs)
        "cpu_ms_per_1000_events": {
            name: round(seconds * 1_000_000 / offered)
            for name, seconds in cpu_between(cpu_before, cpu_after).items()
        },
    }


async def measure(
    members: int, burst: int, freshness_too: bool, rates: tuple[int, ...] = RATES
) -> dict[str, Any]:
    work = ROOT / ".run" / "bench-pipeline"
    work.mkdir(parents=True, exist_ok=True)
    rig = Rig(members, work)
    await rig.create()
    result: dict[str, Any] = {"members": members}
    past = list(history(bureau(members)))
    result["history_events"] = len(past)
    await publish(rig.kafka, past)
    rig.start()
    try:
        end = await rig.log_end()
        reached = await rig.everyone_at(end, 1800)
        result["history_seconds"] = {name: round(s, 1) for name, s in reached.items()}
        scoring_url = f"http://127.0.0.1:{rig.ports['scoring']}/readyz"
        wait_for(lambda: answers(scoring_url), 600, "scoring ready")

        activity = Activity(members)
        when = datetime.now(BUSINESS_TZ) - timedelta(hours=2)
        records = [activity.next(when + timedelta(milliseconds=n)) for n in range(burst)]
        before = await rig.log_end()
        started = time.monotonic()
        result["producer_events_per_s"] = round(await publish(rig.kafka, records))
        reached = await rig.everyone_at(before + burst, 1800)
        result["burst_events"] = burst
        result["burst_seconds"] = {name: round(s, 1) for name, s in reached.items()}
        elapsed = time.monotonic() - started
        for name in CONSUMERS:
            seconds = reached.get(name)
            result[f"{name}_events_per_s"] = round(burst / seconds) if seconds else None
        result["burst_wall_seconds"] = round(elapsed, 1)
        result["limit_consumer_events_per_s"] = round(await bare_consumer(rig.kafka))
        result["load_average_1m_after_burst"] = round(os.getloadavg()[0], 1)
        if freshness_too:
            result["freshness"] = {
                str(rate): await freshness(rig, activity, rate, SECONDS_PER_RATE) for rate in rates
            }
    finally:
        rig.stop()
    return result


def selection_bytes_at_100k_members() -> int:
    """The largest message scoring publishes for a quarter of 100,000 members."""
    from mingdeng.contracts import events as ev
    from mingdeng.contracts.codec import new_event, serialize_event
    from mingdeng.runtime.stream import InboundRecord
    from mingdeng.scoring.domain.rules import Rules
    from mingdeng.scoring.service import ScoringService
    from mingdeng.scoring.settings import DEFAULT_RULES

    now = datetime(2026, 10, 20, tzinfo=UTC)
    service = ScoringService(Rules.load(DEFAULT_RULES), EVENTS.partitions, clock=lambda: now)
    at = datetime(2026, 7, 1, tzinfo=UTC)
    events = [
        new_event(ev.BranchRegistered(branch_id="b1", name="支部"), source=SOURCE, time=at),
        new_event(
            ev.DepartmentRegistered(department_id="d1", name="科室", branch_id="b1", leader_id="L"),
            source=SOURCE,
            time=at,
        ),
        *(
            new_event(
                ev.MemberRegistered(
                    member_id=f"m{n:06d}",
                    name="成员",
                    department_id="d1",
                    roles=["member"],
                    party_member=True,
                ),
                source=SOURCE,
                time=at,
            )
            for n in range(100_000)
        ),
        new_event(
            ev.LectureDelivered(lecture_id="l1", speaker_id="m000000"),
            source=SOURCE,
            time=datetime(2026, 8, 3, tzinfo=UTC),
        ),
    ]

    service.take(
        InboundRecord(0, n, e.subject.encode(), serialize_event(e), int(now.timestamp() * 1000))
        for n, e in enumerate(events)
    )
    published = service.publish_changes(everything=True)
    return max(len(p.key) + len(p.value or b"") for p in published)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[130, 20_000])
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--rates", type=int, nargs="+", default=list(RATES))
    args = parser.parse_args()
    runs = {}
    for members in args.sizes:
        print(f"pipeline: {members} members, a burst of {args.burst:,}", flush=True)
        runs[str(members)] = await measure(
            members, args.burst, freshness_too=members < 1000, rates=tuple(args.rates)
        )
        print(json.dumps(runs[str(members)], indent=1), flush=True)
    small = runs.get(str(min(args.sizes)), {})
    large = runs.get(str(max(args.sizes)), {}) if max(args.sizes) >= 20_000 else {}
    fresh = small.get("freshness", {})
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "targets": TARGETS,
        "runs": runs,
        **{
            f"{name}_events_per_s": small.get(f"{name}_events_per_s")
            for name in ("outreach", "notify", "scoring", "projector")
        },
        "limit_consumer_events_per_s": small.get("limit_consumer_events_per_s"),
        "freshness_p99_ms_at_1000_all_services": fresh.get("1000", {})
        .get("stream", {})
        .get("p99_ms"),
        "coverage_freshness_p99_ms_at_500": fresh.get("500", {}).get("coverage", {}).get("p99_ms"),
        "violation_sms_p99_ms_at_500": fresh.get("500", {}).get("violation_sms", {}).get("p99_ms"),
        "notify_events_per_s_at_20k": large.get("notify_events_per_s"),
        "outreach_events_per_s_at_20k": large.get("outreach_events_per_s"),
        "scoring_events_per_s_at_20k": large.get("scoring_events_per_s"),
        "projector_events_per_s_at_20k": large.get("projector_events_per_s"),
        "limit_consumer_events_per_s_at_20k": large.get("limit_consumer_events_per_s"),
        "selection_bytes_at_100k_members": selection_bytes_at_100k_members(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    for name in (f"pipeline-{day}.json", "pipeline-latest.json"):
        (RESULTS / name).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k not in ("runs", "machine")}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
