"""Fault injection with real processes: the gateway (with its projector), scoring, notify and
outreach, each under its supervisor (deploy/supervise.sh), under a steady load through the API.

Randomised trials (seed in MINGDENG_FAULT_SEED, printed on failure): poison records of every
kind on every topic these services read, kill -9 of a service, a PostgreSQL restart and Kafka
frozen for 30 s. After each: every service is up and ready again without a hand, every
accepted event is in each projection exactly once, and every violation reminder was sent once.
At the end, the indices (on Kafka and as the API serves them) equal a clean replay of the log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mingdeng.contracts import topics as t
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, LectureAttended, MemberRegistered
from mingdeng.notify.service import READS as NOTIFY_READS
from mingdeng.outreach.service import READS as OUTREACH_READS
from tests.e2e.conftest import token
from tests.support.builders import Events
from tests.support.kafka_log import latest
from tests.support.platform import Platform, deploy_script
from tests.support.processes import ROOT, answers, wait_for

pytestmark = pytest.mark.faults
SEED = int(os.environ.get("MINGDENG_FAULT_SEED", random.randrange(1_000_000)))
ADMIN = token("admin", "root")
RECOVERY_S = 120

# every topic a consumer of these services reads, and who parks a bad record of it
PROJECTOR_ONLY = (
    t.SCORES, t.EVENT_STATUS, t.DEAD_LETTER, t.TASKS, t.NOTIFICATIONS, t.BULLETINS, t.OUTREACH,
)  # fmt: skip
READ_TOPICS = (t.EVENTS, t.SELECTIONS, t.REMINDER_REQUESTS, *PROJECTOR_ONLY)


def _cloudevent(**data: object) -> bytes:
    return json.dumps(
        {"specversion": "1.0", "id": "p", "source": "/poison", "type": "mingdeng.member.left.v1",
         "subject": "m1", "time": "2026-11-01T00:00:00+08:00", "data": data}
    ).encode()  # fmt: skip


POISON: dict[str, bytes] = {
    "nul-garbage": b"\x00\x01garbage\x00\xff\xfe",
    "deep-nesting": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "huge-number": _cloudevent(member_id="m1").replace(
        b'"m1"}', b'"m1", "n": ' + b"7" * 5000 + b"}"
    ),
    "nul-in-json": _cloudevent(member_id="m\u0000"),
    "bad-utf8": b'{"member_id": "\xff\xfe\xfd"}',
    "empty": b"",
    "wrong-shape": b'[1, 2, {"task_id": null}]',
}


class Load(threading.Thread):
    """A client posting small batches steadily, retrying on 503 as told (Retry-After)."""

    def __init__(self, platform: Platform, make: Iterator[list[Event[EventData]]]) -> None:
        super().__init__(daemon=True)
        self.platform, self.make = platform, make
        self.accepted: list[Event[EventData]] = []
        self.unavailable: list[tuple[float, str | None]] = []  # (seconds to answer, Retry-After)
        # events of a POST answered 503 "the commit was not answered": maybe on the log
        self.uncertain_keys: set[tuple[str, str]] = set()
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.platform.api, headers=ADMIN, timeout=30) as client:
                while not self.halt.is_set():
                    self._post(client, next(self.make))
                    time.sleep(0.3)
        except BaseException as error:  # reported by the test's thread
            self.error = error

    def _post(self, client: httpx.Client, batch: list[Event[EventData]]) -> None:
        body = [e.to_cloudevent() for e in batch]
        unanswered = False  # a try whose answer was lost (the gateway killed meanwhile)
        while True:  # a client retries until its batch is accepted
            started = time.monotonic()
            try:
                answer = client.post("/v1/events", json=body)
            except httpx.TransportError:  # the gateway restarting
                unanswered = True
                time.sleep(0.5)
                continue
            if answer.status_code == 503:
                if "commit was not answered" in answer.json()["detail"]:
                    self.uncertain_keys.update(e.key for e in batch)
                self.unavailable.append(
                    (time.monotonic() - started, answer.headers.get("retry-after"))
                )
                time.sleep(1)
                continue
            assert answer.status_code == 202, answer.text
            # a 503 recorded nothing (unless it said the commit was not answered); only a try
            # that lost its answer may have been accepted
            uncertain = any(e.key in self.uncertain_keys for e in batch)
            assert unanswered or uncertain or answer.json()["duplicates"] == [], answer.text
            self.accepted.extend(batch)
            return


def batches(events: Events) -> Iterator[list[Event[EventData]]]:
    n = 0
    now = datetime.now(UTC) - timedelta(minutes=1)
    while True:
        member = f"m{n:04d}"
        yield [
            events.member(member, "d1", "2026-06-01 09:00", name=f"党员{n}", phone=f"139{n:08d}"),
            events.violation(f"v{n:04d}", member, now),
            events.attended("L1", member, "2026-06-02 09:00"),
        ]
        n += 1


def registered_load(platform: Platform) -> Load:
    """The load, not started yet, on a bureau whose branch and department are registered."""
    setup = Events(source="/systems/hr", prefix="s")
    registry = [
        setup.branch("b1", "2026-06-01 09:00"),
        setup.department("d1", "b1", "2026-06-01 09:00"),
    ]
    with httpx.Client(base_url=platform.api, headers=ADMIN, timeout=30) as client:
        first = client.post("/v1/events", json=[e.to_cloudevent() for e in registry])
        assert first.status_code == 202, first.text
    load = Load(platform, batches(Events(source="/systems/inspection")))
    load.accepted.extend(registry)
    return load


def sent(sink: Path) -> Counter[str]:
    if not sink.exists():
        return Counter()
    return Counter(
        json.loads(line)["key"] for line in sink.read_text().splitlines() if line.strip()
    )


async def _counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in (
                "notify.events",
                "outreach.events",
                "gateway.members",
                "gateway.attendances",
            )
        }
    finally:
        await connection.close()


def consistent(platform: Platform, accepted: list[Event[EventData]]) -> str | None:
    """None when every projection holds each accepted event once and every reminder was sent
    once; else what is still missing."""
    try:
        counts = asyncio.run(_counts(platform.dsn))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"database: {error}"
    expected = {
        "notify.events": sum(isinstance(e.data, NOTIFY_READS) for e in accepted),
        "outreach.events": sum(isinstance(e.data, OUTREACH_READS) for e in accepted),
        "gateway.members": sum(isinstance(e.data, MemberRegistered) for e in accepted),
        "gateway.attendances": sum(isinstance(e.data, LectureAttended) for e in accepted),
    }
    if counts != expected:
        return f"projections {counts} != {expected}"
    reminders = {
        f"violation_reminder/{e.data.member_id}/{e.data.violation_id}"  # type: ignore[attr-defined]
        for e in accepted
        if e.type == "mingdeng.violation.logged.v1"
    }
    sms = sent(platform.sink)
    if set(sms) != reminders:
        return (
            f"{len(reminders - set(sms))} reminders missing, {len(set(sms) - reminders)} unexpected"
        )
    doubled = [key for key, count in sms.items() if count > 1]
    assert not doubled, f"SMS sent twice: {doubled[:5]}"
    return None


def all_ready(platform: Platform) -> bool:
    return all(answers(s.ready) and s.child_pid() is not None for s in platform.services.values())


def recovered(platform: Platform, load: Load, what: str) -> None:
    state: dict[str, str | None] = {"missing": "not checked"}

    def check() -> bool:
        state["missing"] = consistent(platform, list(load.accepted))
        return state["missing"] is None and all_ready(platform)

    try:
        wait_for(check, RECOVERY_S, what)
    except AssertionError:
        raise AssertionError(f"seed {SEED}: after {what}: {state['missing']}; ready: "
                             f"{ {n: answers(s.ready) for n, s in platform.services.items()} }") from None  # fmt: skip


# --- faults --------------------------------------------------------------------------------


def inject_poison(platform: Platform, rng: random.Random) -> list[tuple[t.Topic, str, int, int]]:
    """Every kind of poison on every topic, in a random order; (topic, kind, partition, offset)."""
    pairs = [(topic, kind) for topic in READ_TOPICS for kind in POISON]
    rng.shuffle(pairs)
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    try:
        placed = []
        for topic, kind in pairs:
            meta = producer.send(
                platform.kafka.topic(topic), key=b"poison", value=POISON[kind]
            ).get(30)
            placed.append((topic, kind, meta.partition, meta.offset))
        return placed
    finally:
        producer.close()


async def _kept(
    dsn: str,
) -> tuple[dict[tuple[str, int, int], bytes], dict[tuple[str, str, int, int], bytes]]:
    connection = await asyncpg.connect(dsn)
    try:
        letters = await connection.fetch(
            'SELECT topic, partition, "offset", raw, body FROM gateway.dead_letters'
        )
        parked = await connection.fetch(
            'SELECT consumer, topic, partition, "offset", value FROM public.parked_records'
        )
    finally:
        await connection.close()
    by_scoring = [json.loads(r["body"]) for r in letters if r["topic"].endswith(t.DEAD_LETTER.name)]
    return (
        {(r["topic"], r["partition"], r["offset"]): r["raw"] for r in letters}
        | {  # what scoring dead-lettered: where the record was, and its bytes
            (b["topic"], b["partition"], b["offset"]): base64.b64decode(b["raw_base64"])
            for b in by_scoring
            if isinstance(b, dict)
            and b.get("consumer") == "scoring"
            and b.get("raw_base64") is not None
        },
        {(r["consumer"], r["topic"], r["partition"], r["offset"]): r["value"] for r in parked},
    )


def check_poison_kept(platform: Platform, placed: list[tuple[t.Topic, str, int, int]]) -> None:
    """Each bad record is kept byte for byte: a bad inbound event dead-lettered by scoring,
    with reasons (the other readers skip it); a bad derived record by each consumer that reads
    it."""
    state: dict[str, str | None] = {"missing": None}

    def kept() -> bool:
        state["missing"] = poison_not_kept(platform, placed)
        return state["missing"] is None

    try:
        wait_for(kept, 60, "the poison kept")
    except AssertionError:
        raise AssertionError(f"seed {SEED}: {state['missing']}") from None


def poison_not_kept(platform: Platform, placed: list[tuple[t.Topic, str, int, int]]) -> str | None:
    letters, parked = asyncio.run(_kept(platform.dsn))
    projector = platform.kafka.group("mingdeng-gateway-projector")
    notify = platform.kafka.group("mingdeng-notify")
    for topic, kind, partition, offset in placed:
        name = platform.kafka.topic(topic)
        if topic is t.EVENTS:  # dead-lettered by scoring, kept by the projector
            if letters.get((name, partition, offset)) != POISON[kind]:
                return f"scoring did not dead-letter {kind} on {name}@{offset}"
            continue
        if topic is not t.REMINDER_REQUESTS:
            by_projector = letters.get(
                (name, partition, offset), parked.get((projector, name, partition, offset))
            )
            if by_projector != POISON[kind]:
                return f"the projector did not keep {kind} on {name}@{offset}"
        if topic in (t.SELECTIONS, t.REMINDER_REQUESTS) and (
            parked.get((notify, name, partition, offset)) != POISON[kind]
        ):
            return f"notify did not park {kind} on {name}@{offset}"
    return None


def kill_9(platform: Platform, rng: random.Random) -> str:
    name = rng.choice(sorted(platform.services))
    pid = platform.services[name].child_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: platform.services[name].child_pid() not in (None, pid), 30, f"{name} restarted"
    )
    return name


def restart_postgres() -> None:
    deploy_script("postgres/stop.sh")
    time.sleep(2)
    deploy_script("postgres/start.sh")


def kafka_outage(seconds: float) -> None:
    """Freeze the broker (SIGSTOP) for `seconds`: every request to it times out, the way a
    broker that is down looks to a client. (Stopping the process instead frees its port, which
    lies in the ephemeral range: a client retrying it can then connect to itself and hold the
    port the broker needs to start again.)"""
    pidfile = Path(os.environ["MINGDENG_RUN_DIR"]) / "kafka" / "kafka.pid"
    pid = int(pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.timeout(1200)
def test_randomised_fault_trials(platform: Platform, infrastructure_scripts: None) -> None:
    rng = random.Random(SEED)
    print(f"fault trials: MINGDENG_FAULT_SEED={SEED}")
    load = registered_load(platform)
    trials = ["poison"] * 5 + ["kill -9"] * 4 + ["postgres restart", "kafka outage"]
    rng.shuffle(trials)
    load.start()
    placed: list[tuple[t.Topic, str, int, int]] = []
    try:
        for number, trial in enumerate(trials, 1):
            time.sleep(rng.uniform(0.5, 2))  # some load before the fault
            what = f"trial {number} ({trial})"
            if trial == "poison":
                placed += inject_poison(platform, rng)
            elif trial == "kill -9":
                what += f" of {kill_9(platform, rng)}"
            elif trial == "postgres restart":
                restart_postgres()
            else:
                before = len(load.unavailable)
                kafka_outage(30)
                refused = load.unavailable[before:]
                assert refused, "POST during a Kafka outage must answer 503"
                assert all(seconds < 15 and retry for seconds, retry in refused), refused
                print(f"during the outage: {len(refused)} POSTs answered 503 in at most "
                      f"{max(seconds for seconds, _ in refused):.1f} s")  # fmt: skip
            assert load.error is None, load.error
            recovered(platform, load, what)
        check_poison_kept(platform, placed)
    finally:
        load.halt.set()
        load.join(60)
    assert load.error is None, load.error
    assert len(load.accepted) >= 30
    recovered(platform, load, "the last trial")
    check_published_once(platform, load.accepted, load.uncertain_keys)
    check_indices_equal_a_clean_replay(platform)


def check_indices_equal_a_clean_replay(platform: Platform) -> None:
    """What scoring published equals a replay of the whole log from offset 0, and so does every
    index the API serves. (The poison the trials put on scoring's own topics is left out.)"""

    def replayed() -> dict[tuple[str, str], object]:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/mingdeng-scoring"), "replay"],
            env=platform.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        items = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return {(item["topic"], item["key"]): item["value"] for item in items}

    def live() -> dict[tuple[str, str], object]:
        found = {}
        for topic in (t.SCORES, t.RANKINGS, t.SELECTIONS):
            for key, value in latest(
                platform.kafka.bootstrap_servers, platform.kafka.topic(topic)
            ).items():
                if key != "poison":
                    found[(topic.name, key)] = json.loads(value)
        return found

    state: dict[str, object] = {}

    def live_equals_replay() -> bool:  # selections follow their scores within a second
        state["replayed"], state["live"] = replayed(), live()
        return state["replayed"] == state["live"]

    try:
        wait_for(live_equals_replay, 30, "the live indices equal a clean replay")
    except AssertionError:
        a, b = state["replayed"], state["live"]
        differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))  # type: ignore[union-attr]
        raise AssertionError(
            f"seed {SEED}: {len(differing)} differ, e.g. {differing[:5]}"
        ) from None
    scores = {
        key: value["index"]  # type: ignore[index]
        for (topic, key), value in state["replayed"].items()  # type: ignore[attr-defined]
        if topic == t.SCORES.name
    }

    async def served() -> dict[str, float]:
        connection = await asyncpg.connect(platform.dsn)
        try:
            rows = await connection.fetch(
                "SELECT quarter || '/' || level || '/' || id AS key, body FROM gateway.scores"
            )
        finally:
            await connection.close()
        return {row["key"]: json.loads(row["body"])["index"] for row in rows}

    wait_for(lambda: asyncio.run(served()) == scores, 30, "the API serves the replayed indices")
    print(f"{len(scores)} indices equal a clean replay, on Kafka and through the API")


def check_published_once(
    platform: Platform, accepted: list[Event[EventData]], uncertain: set[tuple[str, str]]
) -> None:
    """Every accepted event is committed on the topic exactly once: a batch answered 503 was
    aborted whole, even when the broker hung in the middle of it, unless the 503 said that the
    commit itself was not answered."""
    topic = platform.kafka.topic(t.EVENTS)
    consumer = KafkaConsumer(bootstrap_servers=platform.kafka.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000,
                             isolation_level="read_committed")  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        seen: Counter[tuple[str, str]] = Counter()
        for message in consumer:
            try:
                document = json.loads(message.value)
                seen[(document["source"], document["id"])] += 1
            except (ValueError, TypeError, KeyError, RecursionError):
                continue  # the poison
    finally:
        consumer.close()
    keys = [e.key for e in accepted]
    assert [key for key in keys if seen[key] == 0] == [], "accepted, not published"
    twice = [key for key in keys if seen[key] > 1]
    assert set(twice) <= uncertain, (
        f"committed twice without a 503 that said so: {sorted(set(twice) - uncertain)[:5]}"
    )
    print(f"{len(keys)} events accepted; {len(uncertain)} answered 503 with the commit unknown, "
          f"of which {len(twice)} reached the log twice")  # fmt: skip
