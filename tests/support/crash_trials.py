"""Crash trials of the scoring worker on the real broker.

A generated history is published at a steady rate while the worker runs; in each trial TERM or
KILL hits the worker at a random moment (or while it writes a checkpoint), it is started again,
and once it has caught up the trial checks, against the log itself:
- every inbound event has exactly one status record (nothing lost, nothing doubled);
- a clean replay of the inbound log gives exactly the published scores and selections.
Used by tests/integration/scoring/test_crash_trials.py (CI) and bench/crash_trials.py (long run).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka import KafkaProducer

from mingdeng.contracts.topics import BARRIER_HEADER, EVENT_STATUS, EVENTS
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.topics_admin import ensure_topics
from tests.support.history import Bureau, HistoryRecord, history
from tests.support.kafka_log import records
from tests.support.processes import ROOT, Service, answers, free_port, wait_for

SELECTIONS_SETTLE_S = 1.5  # the worker's selection interval (1 s) and a margin


@dataclass(frozen=True)
class TrialResult:
    number: int
    signal: str
    moment: str  # "load" (a random moment while records flow) or "checkpoint"
    published: int
    statuses: int
    missing: int
    doubled: int
    replay_matches: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return self.missing == 0 and self.doubled == 0 and self.replay_matches


class CrashRig:
    def __init__(self, bootstrap_servers: str, work: Path, bureau: Bureau, rate_per_s: float = 400):
        self.kafka = KafkaSettings(
            bootstrap_servers=bootstrap_servers, topic_prefix=f"crash-{uuid.uuid4().hex[:8]}."
        )
        ensure_topics(self.kafka)
        self.work = work
        self.rate = rate_per_s
        self.pending: list[HistoryRecord] = list(history(bureau))
        self.keys: set[str] = set()
        self.published = 0
        self.port = free_port()
        self.env = {
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "MINGDENG_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "MINGDENG_SCORING_DATA_DIR": str(work / "state"),
            "MINGDENG_SCORING_WEB_PORT": str(self.port),
            "MINGDENG_SCORING_MAX_BATCH": "200",
            "MINGDENG_SCORING_CHECKPOINT_EVERY_RECORDS": "300",
            "MINGDENG_SCORING_READY_MAX_LAG": "0",
        }
        self.worker = Service(["mingdeng-scoring", "run"], self.env, work / "scoring.log")
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
        )
        self.state = work / "state"
        self.partitions = EVENTS.partitions
        self._rng = random.Random(0)

    # --- load ------------------------------------------------------------------------------

    def publish(self, count: int) -> None:
        """The next `count` records at the rig's rate; a close as barrier copies (as the gateway
        publishes it) or, one time in three, straight on one partition (scoring copies it)."""
        topic = self.kafka.topic(EVENTS)
        interval = 1 / self.rate
        for record in self.pending[:count]:
            document = json.loads(record.value)
            self.keys.add(f"{document['source']} {document['id']}")
            if record.is_close and self._rng.random() < 2 / 3:
                for p in range(self.partitions):
                    self.producer.send(
                        topic,
                        key=record.key,
                        value=record.value,
                        partition=p,
                        headers=[(BARRIER_HEADER, b"1")],
                    )
            else:
                self.producer.send(topic, key=record.key, value=record.value)
            time.sleep(interval)
        self.producer.flush()
        self.published += min(count, len(self.pending))
        del self.pending[:count]

    # --- trials ----------------------------------------------------------------------------

    def trial(self, number: int, rng: random.Random, per_trial: int = 400) -> TrialResult:
        started = time.monotonic()
        if self.worker.process is None or self.worker.process.poll() is not None:
            self.worker.start(f"http://127.0.0.1:{self.port}/healthz")
        kind = rng.choice([signal.SIGTERM, signal.SIGKILL])
        moment = "checkpoint" if number % 3 == 2 else "load"
        load = threading.Thread(target=self.publish, args=(per_trial,))
        load.start()
        if moment == "checkpoint":
            kind = signal.SIGKILL
            self._kill_during_checkpoint(timeout_s=per_trial / self.rate)
        else:
            time.sleep(rng.uniform(0.1, 0.9) * per_trial / self.rate)
            self._signal(kind)
        load.join()
        self.worker.process.wait(30)  # type: ignore[union-attr]
        self.worker.start(f"http://127.0.0.1:{self.port}/healthz")
        counts = self._wait_for_statuses()
        wait_for(lambda: answers(f"http://127.0.0.1:{self.port}/readyz"), 60, "caught up")
        time.sleep(SELECTIONS_SETTLE_S)  # selections follow their scores within a second
        replay_ok = self.replay_matches()
        return TrialResult(
            number=number,
            signal=signal.Signals(kind).name,
            moment=moment,
            published=len(self.keys),
            statuses=sum(counts.values()),
            missing=len(self.keys - counts.keys()),
            doubled=sum(1 for n in counts.values() if n > 1),
            replay_matches=replay_ok,
            seconds=round(time.monotonic() - started, 1),
        )

    def _signal(self, kind: int) -> None:
        process = self.worker.process
        assert process is not None
        os.kill(process.pid, kind)

    def _kill_during_checkpoint(self, timeout_s: float) -> None:
        """KILL the worker and the child writing its checkpoint (the whole process group, as
        a container's or a unit's stop does) while the temporary file is being written."""
        deadline = time.monotonic() + timeout_s
        process = self.worker.process
        assert process is not None
        while time.monotonic() < deadline:
            if any(self.state.glob("*.checkpoint.*.tmp")):
                os.killpg(process.pid, signal.SIGKILL)
                return
            time.sleep(0.0005)
        self._signal(signal.SIGKILL)  # no checkpoint seen in time: a random moment after all

    def _wait_for_statuses(self) -> Counter[str]:
        return wait_for_statuses(self.kafka, self.keys)

    def replay_matches(self) -> bool:
        return replay_matches(self.env, self.work)

    def close(self) -> None:
        self.worker.kill_if_running()
        self.producer.close()


def wait_for_statuses(kafka: KafkaSettings, keys: set[str], timeout_s: float = 120) -> Counter[str]:
    """How many status records each event key has, once every one of `keys` has one."""
    counts: Counter[str] = Counter()

    def caught_up() -> bool:
        nonlocal counts
        found = records(kafka.bootstrap_servers, kafka.topic(EVENT_STATUS))
        counts = Counter(r.key.decode() for r in found)
        return keys <= counts.keys()

    try:
        wait_for(caught_up, timeout_s, "a status for every published event")
    except AssertionError as error:
        missing = sorted(keys - counts.keys())
        raise AssertionError(f"{error}: {len(missing)} without, e.g. {missing[:5]}") from None
    return counts


def replay_matches(env: dict[str, str], work: Path) -> bool:
    """`mingdeng-scoring replay --verify`: a clean replay equals what was published (if not,
    its output goes to `work`/replay.log)."""
    replay = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-scoring"), "replay", "--verify"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if replay.returncode != 0:
        (work / "replay.log").write_text(replay.stdout + replay.stderr)
    return replay.returncode == 0


def tally(results: list[TrialResult]) -> dict[str, object]:
    return {
        "trials": len(results),
        "passed": sum(r.passed for r in results),
        "by_signal": dict(Counter(r.signal for r in results)),
        "by_moment": dict(Counter(r.moment for r in results)),
        "events_published": results[-1].published if results else 0,
        "missing": sum(r.missing for r in results),
        "doubled": sum(r.doubled for r in results),
        "replay_mismatches": sum(not r.replay_matches for r in results),
        "results": [asdict(r) for r in results],
    }
