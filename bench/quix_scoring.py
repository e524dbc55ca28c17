"""Scoring on quixstreams, measured against our own stream runtime (issue 26, ADR 0004).

`app` runs scoring's real domain (`ScoringService`, its `AgencyBook`s) as a quixstreams
Application on `mingdeng.events.v1` (records keyed by agency, as the gateway writes them):
- `processing_guarantee="exactly-once"` (3.28's default is at-least-once), consumer group
  `mingdeng-scoring-quix`, outputs produced by `to_topic` in the transaction that commits the
  input offsets and the state's changelog.
- `--state book` (the faithful one): the agency's `AgencyBook` and its completed closes are the
  state of the message key (the agency), pickled (RocksDBOptions dumps/loads), so every message
  writes the whole agency's book again: quixstreams serializes a value on `State.set` and its
  changelog carries it. A cache in the process keeps the book unpickled while the state's
  `at` (the offset of the last record applied) says it is the same, so a message costs one
  pickle, not a pickle and an unpickle.
- `--state memory`: the books in the process only, not written to any state (not crash-safe):
  what quixstreams itself costs per message, the floor a finer-grained state could reach.
A message's publications are scored and published at once (quixstreams has no hook between
messages or on a timer: a selection held back for an interval would never be published when
the input stops), so a quarter's selection is computed per message (`--selection-interval 0`).
Barrier copies (the default agency keyed by subject) are not expressible: `to_topic` cannot
choose a partition, and a per-key state cannot hold a close that waits for every partition.

`throughput` publishes the burst of bench/scaleout_bench.py once per side to fresh topics and
times our worker (`mingdeng-scoring run`, one task over every partition) to the end of the log,
and the quixstreams app for `--quix-seconds` (or to the end), load average beside each.
`trials` runs crash trials of the app: 8 agencies' histories at a steady rate, KILL or TERM at a
random moment, restart, then every event must have exactly one status (read_committed) and
`mingdeng-scoring replay --verify` must find the published results equal to a clean replay.

quixstreams is in the `bench` dependency group, resolved and installed apart (pyproject.toml):
    UV_PROJECT_ENVIRONMENT=.run/venv-bench uv sync --frozen --no-default-groups --group bench
    .run/venv-bench/bin/python bench/quix_scoring.py throughput|trials N
with MINGDENG_KAFKA_BOOTSTRAP_SERVERS set (the tests' broker). Results: bench/results/quix-eval.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.errors import CoordinatorNotAvailableError  # noqa: E402

from bench.scaleout_bench import agency_records, cpu_seconds, publish  # noqa: E402
from mingdeng.contracts.periods import Quarter  # noqa: E402
from mingdeng.contracts.topics import (  # noqa: E402
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    RANKINGS,
    SCORES,
    SELECTIONS,
)
from mingdeng.runtime.settings import KafkaSettings  # noqa: E402
from mingdeng.runtime.stream import InboundRecord, Publication  # noqa: E402
from mingdeng.runtime.topics_admin import ensure_topics  # noqa: E402
from mingdeng.scoring.domain.rules import Rules  # noqa: E402
from mingdeng.scoring.service import AgencyBook, ScoringService  # noqa: E402
from mingdeng.scoring.settings import DEFAULT_RULES  # noqa: E402
from tests.support.crash_trials import (  # noqa: E402
    SELECTIONS_SETTLE_S,
    replay_matches,
    wait_for_statuses,
)
from tests.support.history import Bureau  # noqa: E402
from tests.support.processes import free_port, wait_for  # noqa: E402
from tests.support.scaleout_trials import (  # noqa: E402
    agencies_history,
    agencies_on_every_partition,
)

QUIX_GROUP = "mingdeng-scoring-quix"
WORKER_GROUP = "mingdeng-scoring"
OUTPUTS = (EVENT_STATUS, DEAD_LETTER, SCORES, SELECTIONS, RANKINGS, EVENTS)
RESULTS = ROOT / "bench" / "results" / "quix-eval.json"
BENCH_PYTHON = ROOT / ".run" / "venv-bench" / "bin" / "python"


# --- the quixstreams application ----------------------------------------------------------


class AgencySteps:
    """Scoring's service driven one message at a time, with each agency's book in the state of
    its key (or, `in_state=False`, in this process only)."""

    def __init__(
        self,
        rules: Rules,
        partitions: int,
        inbound_topic: str,
        in_state: bool,
        selection_interval: timedelta,
    ) -> None:
        self.rules, self.partitions, self.inbound_topic = rules, partitions, inbound_topic
        self.in_state, self.selection_interval = in_state, selection_interval
        self.shells: dict[int, ScoringService] = {}  # a service per partition, books swapped in
        self.cache: dict[str, tuple[int, AgencyBook, set[tuple[str, str]]]] = {}

    def shell(self, partition: int) -> ScoringService:
        shell = self.shells.get(partition)
        if shell is None:
            shell = self.shells[partition] = ScoringService(
                self.rules,
                self.partitions,
                inbound_topic=self.inbound_topic,
                reads=(partition,),
                selection_interval=self.selection_interval,
            )
        return shell

    def step(self, record: InboundRecord, state: Any) -> list[Publication]:
        agency = (record.key or b"").decode()
        cached = self.cache.get(agency)
        if not self.in_state:
            at = cached[0] if cached else -1
        else:
            at = state.get("at", -1) if state is not None else -1
        if cached is not None and cached[0] == at:
            book, closes = cached[1], cached[2]
        elif at >= 0:
            book, closes = state.get("book")
        else:
            book, closes = AgencyBook(agency, self.rules, keep_closed_years=False), set()
        shell = self.shell(record.partition)
        shell.books = {agency: book}
        shell.sequencing.completed_closes = closes
        out = shell.take([record]) + shell.publish_changes()
        if set(shell.books) != {agency}:
            raise RuntimeError(f"{record.partition}:{record.offset} is not keyed by its agency")
        if self.in_state:
            state.set("book", (book, closes))
            state.set("at", record.offset)
        self.cache[agency] = (record.offset, book, closes)
        for publication in out:
            if publication.partition is not None:
                raise NotImplementedError("barrier copies: to_topic cannot choose a partition")
        return out


def run_app(args: argparse.Namespace) -> None:
    from quixstreams import Application
    from quixstreams.context import message_context
    from quixstreams.models.serializers import Serializer
    from quixstreams.state.rocksdb import RocksDBOptions

    class PublicationValue(Serializer):
        def __call__(self, value: Publication, ctx: Any) -> bytes | None:  # type: ignore[override]
            return value.value  # None: a tombstone

    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=args.prefix)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=kafka.group(QUIX_GROUP),
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=args.commit_interval,
        state_dir=args.state_dir,
        rocksdb_options=RocksDBOptions(dumps=pickle.dumps, loads=pickle.loads),
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 2000},
        producer_extra_config={"transaction.timeout.ms": 20000, "linger.ms": 2},
        loglevel="INFO",
    )
    inbound = app.topic(kafka.topic(EVENTS), key_deserializer="bytes", value_deserializer="bytes")
    outputs = {
        topic.name: app.topic(
            kafka.topic(topic), key_serializer="bytes", value_serializer=PublicationValue()
        )
        for topic in OUTPUTS
    }
    steps = AgencySteps(
        Rules.load(DEFAULT_RULES),
        EVENTS.partitions,
        kafka.topic(EVENTS),
        args.state == "book",
        timedelta(seconds=args.selection_interval),
    )

    def step(value: bytes, key: bytes, timestamp: int, headers: Any, state: Any = None) -> list:
        context = message_context()
        record = InboundRecord(
            context.partition, context.offset, key, value, timestamp, tuple(headers or ())
        )
        return steps.step(record, state)

    sdf = app.dataframe(inbound)
    if args.state == "book":
        sdf = sdf.apply(step, stateful=True, metadata=True, expand=True)
    else:
        sdf = sdf.apply(step, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda value, key, timestamp, headers: list(value.headers))
    sdf.to_topic(
        lambda value, key, timestamp, headers: outputs[value.topic.name], key=lambda p: p.key
    )
    app.run()


# --- the driver ---------------------------------------------------------------------------


def committed(bootstrap: str, group: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    except CoordinatorNotAvailableError:  # the group's coordinator is being set up: none yet
        return {}
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()}


def end_offsets(kafka: KafkaSettings) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        tps = [TopicPartition(kafka.topic(EVENTS), p) for p in range(EVENTS.partitions)]
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def quix_process(
    kafka: KafkaSettings, work: Path, state: str, commit_interval: float, selection_s: float = 0
) -> Any:
    log = (work / "quix.log").open("ab")
    return subprocess.Popen(
        [
            *(str(BENCH_PYTHON), __file__, "app", "--bootstrap", kafka.bootstrap_servers),
            *("--prefix", kafka.topic_prefix, "--state", state, "--state-dir", str(work / "state")),
            *("--commit-interval", str(commit_interval), "--selection-interval", str(selection_s)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed_run(
    kafka: KafkaSettings, group: str, start: Any, limit_s: float | None
) -> dict[str, Any]:
    """Start a consumer (`start()` returns its process), until its group's committed offsets
    reach the end of the inbound log or `limit_s` passes: events/s and events per CPU-second."""
    ends = end_offsets(kafka)
    total = sum(ends.values())
    load_before, started = load(), time.monotonic()
    process = start()
    done, cpu_s = 0, 0.0
    try:
        while True:
            done = sum(
                min(o, ends[p]) for p, o in committed(kafka.bootstrap_servers, group).items()
            )
            elapsed = time.monotonic() - started
            cpu_s = cpu_seconds(process.pid)
            if done >= total or (limit_s is not None and elapsed >= limit_s):
                break
            time.sleep(0.25)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    return {
        "events": total,
        "events_done": done,
        "seconds": round(elapsed, 2),
        "events_per_s": round(done / elapsed, 1),
        "cpu_s": round(cpu_s, 1),
        "events_per_cpu_s": round(done / cpu_s, 1) if cpu_s else None,
        "load_before": load_before,
        "load_after": load(),
    }


def fresh_burst(bootstrap: str, records: list[tuple[bytes, bytes]], label: str) -> KafkaSettings:
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap, topic_prefix=f"quix-{label}-{uuid.uuid4().hex[:6]}."
    )
    ensure_topics(kafka)
    asyncio.run(publish(kafka, records))
    return kafka


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"]
    records = agency_records(args.agencies, args.members, args.quarters)
    runs: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for side in args.sides.split(","):
            kafka = fresh_burst(bootstrap, records, side)
            work = ROOT / ".run" / "bench" / kafka.topic_prefix.rstrip(".")
            work.mkdir(parents=True, exist_ok=True)
            if side == "worker":
                env = {
                    **os.environ,
                    "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
                    "MINGDENG_SCORING_DATA_DIR": str(work / "state"),
                    "MINGDENG_SCORING_WEB_PORT": str(free_port()),
                }

                def start(env: dict[str, str] = env, work: Path = work) -> Any:
                    return subprocess.Popen(
                        [str(ROOT / ".venv/bin/mingdeng-scoring"), "run"],
                        env=env,
                        stdout=(work / "scoring.log").open("ab"),
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )

                result = timed_run(kafka, kafka.group(WORKER_GROUP), start, None)
            else:
                # "-held": selections at most once a second, as the worker's (the last ones
                # would never be published: for throughput only)
                state = side.removeprefix("quix-").removesuffix("-held")
                selection_s = 1.0 if side.endswith("-held") else 0.0
                result = timed_run(
                    kafka,
                    kafka.group(QUIX_GROUP),
                    lambda kafka=kafka, work=work, state=state, s=selection_s: quix_process(
                        kafka, work, state, args.commit_interval, s
                    ),
                    args.quix_seconds,
                )
            runs.append({"round": round_, "side": side, **result})
            print(json.dumps(runs[-1]), flush=True)
    return {
        "burst": {
            "agencies": args.agencies,
            "members": args.members,
            "quarters": args.quarters,
            "events": len(records),
        },
        "quix_commit_interval_s": args.commit_interval,
        "runs": runs,
    }


def trials(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"]
    bureau = Bureau(
        members=8,
        departments=4,
        branches=2,
        first_quarter=Quarter(2000, 1),
        quarters=min(100, 4 + args.trials // 2),
        activity_per_member_quarter=6,
    )
    pending = agencies_history(bureau, agencies_on_every_partition())
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap, topic_prefix=f"quixcrash-{uuid.uuid4().hex[:6]}."
    )
    ensure_topics(kafka)
    work = ROOT / ".run" / "bench" / kafka.topic_prefix.rstrip(".")
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MINGDENG_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
    }
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    keys: set[str] = set()
    rng = random.Random(int(os.environ.get("MINGDENG_TRIAL_SEED", "1")))

    def publish_some(count: int) -> None:
        for key, value, _ in pending[:count]:
            document = json.loads(value)
            keys.add(f"{document['agency']}/{document['source']} {document['id']}")
            producer.send(kafka.topic(EVENTS), key=key, value=value)
            time.sleep(1 / args.rate)
        producer.flush()
        del pending[:count]

    process = quix_process(kafka, work, "book", args.commit_interval)
    results: list[dict[str, Any]] = []
    try:
        publish_some(200)
        for number in range(args.trials):
            started = time.monotonic()
            kind = rng.choice([signal.SIGKILL, signal.SIGTERM])
            flow = threading.Thread(target=publish_some, args=(args.per_trial,))
            flow.start()
            time.sleep(rng.uniform(0.1, 0.9) * args.per_trial / args.rate)
            os.killpg(process.pid, kind)
            process.wait(60)
            killed_at = time.monotonic()
            process = quix_process(kafka, work, "book", args.commit_interval)
            flow.join()
            counts = wait_for_statuses(kafka, keys, timeout_s=600)
            all_statuses_s = time.monotonic() - killed_at
            ends = end_offsets(kafka)
            wait_for(
                lambda ends=ends: committed(bootstrap, kafka.group(QUIX_GROUP)) == ends,
                120,
                "the group at the end of the log",
            )
            time.sleep(SELECTIONS_SETTLE_S)
            replay_ok = replay_matches(env, work)
            results.append(
                {
                    "number": number,
                    "signal": signal.Signals(kind).name,
                    "published": len(keys),
                    "statuses": sum(counts.values()),
                    "missing": len(keys - counts.keys()),
                    "doubled": sum(1 for n in counts.values() if n > 1),
                    "replay_matches": replay_ok,
                    "all_statuses_after_kill_s": round(all_statuses_s, 1),
                    "seconds": round(time.monotonic() - started, 1),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        producer.close()
    passed = [r for r in results if not r["missing"] and not r["doubled"] and r["replay_matches"]]
    return {
        "agencies": 8,
        "rate_per_s": args.rate,
        "per_trial": args.per_trial,
        "quix_commit_interval_s": args.commit_interval,
        "trials": len(results),
        "passed": len(passed),
        "by_signal": dict(Counter(r["signal"] for r in results)),
        "missing": sum(r["missing"] for r in results),
        "doubled": sum(r["doubled"] for r in results),
        "replay_mismatches": sum(not r["replay_matches"] for r in results),
        "logs": str(work),
        "results": results,
    }


def record(section: str, figures: dict[str, Any]) -> None:
    document = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    document[section] = figures
    RESULTS.write_text(json.dumps(document, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    app = commands.add_parser("app", help="run the quixstreams application until TERM")
    app.add_argument("--bootstrap", required=True)
    app.add_argument("--prefix", required=True)
    app.add_argument("--state", choices=["book", "memory"], default="book")
    app.add_argument("--state-dir", required=True)
    app.add_argument("--commit-interval", type=float, default=5.0)
    app.add_argument("--selection-interval", type=float, default=0.0)
    bench = commands.add_parser("throughput", help="our worker and the app on one burst each")
    bench.add_argument("--agencies", type=int, default=8)
    bench.add_argument("--members", type=int, default=150)
    bench.add_argument("--quarters", type=int, default=4)
    bench.add_argument("--rounds", type=int, default=1)
    bench.add_argument("--sides", default="worker,quix-book,quix-memory")
    bench.add_argument("--quix-seconds", type=float, default=180)
    bench.add_argument("--commit-interval", type=float, default=5.0)
    crash = commands.add_parser("trials", help="crash trials of the app")
    crash.add_argument("trials", type=int, nargs="?", default=20)
    crash.add_argument("--per-trial", type=int, default=160)
    crash.add_argument("--rate", type=float, default=200)
    crash.add_argument("--commit-interval", type=float, default=1.0)
    args = parser.parse_args()
    if args.command == "app":
        run_app(args)
    elif args.command == "throughput":
        record("throughput", throughput(args))
    else:
        record("crash_trials", trials(args))


if __name__ == "__main__":
    main()
